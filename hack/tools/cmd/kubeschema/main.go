// Command kubeschema writes the JSON schemas that kubeconform validates
// against, offline: one file per kind and version, generated from the
// Kubernetes OpenAPI v2 document (api/openapi-spec/swagger.json) and from
// CustomResourceDefinition manifests.
//
//	kubeschema -out DIR [-openapi swagger.json] [CRD.yaml...]
//
// Files are laid out as DIR/GROUP/KIND_VERSION.json (GROUP is the version for
// the core group, "v1"), which kubeconform reads with
// -schema-location 'DIR/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json'.
//
// The schemas are strict, as kubeconform's published "-strict" ones: an object
// that lists its properties accepts no others. As there, int-or-string fields
// accept both types, quantities accept numbers, and optional typed fields
// accept null (the API server treats null as unset).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kubeschema:", err)
		os.Exit(1)
	}
}

func run() error {
	out := flag.String("out", "", "directory to write the schemas into")
	openapi := flag.String("openapi", "", "Kubernetes OpenAPI v2 document (swagger.json)")
	flag.Parse()
	if *out == "" {
		return errors.New("-out is required")
	}
	n := 0
	if *openapi != "" {
		c, err := fromOpenAPI(*openapi, *out)
		if err != nil {
			return fmt.Errorf("cannot convert %s: %w", *openapi, err)
		}
		n += c
	}
	for _, f := range flag.Args() {
		c, err := fromCRDFile(f, *out)
		if err != nil {
			return fmt.Errorf("cannot convert %s: %w", f, err)
		}
		n += c
	}
	fmt.Printf("kubeschema: wrote %d schemas to %s\n", n, *out)
	return nil
}

type gvk struct {
	Group, Version, Kind string
}

// path is where kubeconform's template finds the schema of k.
func (k gvk) path(dir string) string {
	group := k.Group
	if group == "" {
		group = k.Version
	}
	return filepath.Join(dir, strings.ToLower(group), strings.ToLower(k.Kind)+"_"+strings.ToLower(k.Version)+".json")
}

func write(path string, schema any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.Marshal(schema)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// fromOpenAPI writes one schema per kind of the OpenAPI document: the kind's
// definition with every definition it reaches copied under "definitions", so
// the swagger's own "#/definitions/..." references resolve inside the file.
func fromOpenAPI(file, dir string) (int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return 0, err
	}
	defs := make(map[string]any, len(doc.Definitions))
	for name, d := range doc.Definitions {
		defs[name] = strictOpenAPI(name, d)
	}
	names := make([]string, 0, len(doc.Definitions))
	for name := range doc.Definitions {
		names = append(names, name)
	}
	sort.Strings(names)
	n := 0
	for _, name := range names {
		raw, _ := doc.Definitions[name]["x-kubernetes-group-version-kind"].([]any)
		if len(raw) != 1 {
			continue // not a kind, or a shared type such as DeleteOptions
		}
		g, _ := raw[0].(map[string]any)
		k := gvk{Group: str(g["group"]), Version: str(g["version"]), Kind: str(g["kind"])}
		reached := map[string]any{}
		reach(defs[name], defs, reached)
		root := map[string]any{}
		for key, v := range defs[name].(map[string]any) {
			root[key] = v
		}
		root["definitions"] = reached
		if err := write(k.path(dir), root); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

const refPrefix = "#/definitions/"

// reach copies into reached every definition that s refers to, transitively.
func reach(s any, defs, reached map[string]any) {
	switch v := s.(type) {
	case map[string]any:
		if ref, ok := v["$ref"].(string); ok && strings.HasPrefix(ref, refPrefix) {
			name := strings.TrimPrefix(ref, refPrefix)
			if _, done := reached[name]; !done {
				reached[name] = defs[name]
				reach(defs[name], defs, reached)
			}
		}
		for _, c := range v {
			reach(c, defs, reached)
		}
	case []any:
		for _, c := range v {
			reach(c, defs, reached)
		}
	}
}

// strictOpenAPI rewrites one swagger definition for strict validation.
func strictOpenAPI(name string, d map[string]any) any {
	switch name {
	case "io.k8s.apimachinery.pkg.api.resource.Quantity":
		return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}}
	case "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
		return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}
	}
	return convert(d, convertOptions{})
}

type convertOptions struct {
	// crd marks CRD (OpenAPI v3 structural) schemas, which say nullable and
	// preserve-unknown-fields explicitly.
	crd bool
	// branch marks the schemas under oneOf, anyOf, allOf and not. In a
	// structural schema they only add constraints to the fields the enclosing
	// schema declares (Strimzi's env entries: oneOf {value} or {valueFrom}), so
	// their properties are not a closed set and get no additionalProperties.
	branch bool
}

// convert walks a schema and returns the strict JSON-schema (draft 4) form.
func convert(s any, o convertOptions) any {
	switch v := s.(type) {
	case []any:
		out := make([]any, len(v))
		for i, c := range v {
			out[i] = convert(c, o)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for key, c := range v {
			switch key {
			case "properties", "patternProperties", "definitions":
				// Maps from names to schemas: convert the schemas, not the names.
				m, _ := c.(map[string]any)
				props := make(map[string]any, len(m))
				for pn, ps := range m {
					props[pn] = convert(ps, o)
				}
				out[key] = props
			case "enum", "required", "default", "example":
				out[key] = c
			case "oneOf", "anyOf", "allOf", "not":
				b := o
				b.branch = true
				out[key] = convert(c, b)
			default:
				out[key] = convert(c, o)
			}
		}
		if f, _ := out["format"].(string); f == "int-or-string" {
			delete(out, "format")
			delete(out, "type")
			out["oneOf"] = []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}
		}
		if b, _ := out["x-kubernetes-int-or-string"].(bool); b {
			if _, hasAny := out["anyOf"]; !hasAny {
				delete(out, "type")
				out["anyOf"] = []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}
			}
		}
		if b, _ := out["nullable"].(bool); b {
			if t, ok := out["type"].(string); ok {
				out["type"] = []any{t, "null"}
			}
		}
		preserve, _ := out["x-kubernetes-preserve-unknown-fields"].(bool)
		if _, has := out["properties"]; has && !preserve && !o.branch {
			if _, set := out["additionalProperties"]; !set {
				out["additionalProperties"] = false
			}
		}
		if !o.crd {
			allowNullOptional(out)
		}
		return out
	default:
		return v
	}
}

// allowNullOptional lets an optional typed property of s be null.
func allowNullOptional(s map[string]any) {
	props, _ := s["properties"].(map[string]any)
	required := map[string]bool{}
	if r, ok := s["required"].([]any); ok {
		for _, n := range r {
			required[str(n)] = true
		}
	}
	for name, p := range props {
		m, ok := p.(map[string]any)
		if !ok || required[name] {
			continue
		}
		if t, ok := m["type"].(string); ok {
			m["type"] = []any{t, "null"}
		}
	}
}

// fromCRDFile writes one schema per served version of each CRD in file.
func fromCRDFile(file, dir string) (int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, part := range strings.Split(string(b), "\n---") {
		var crd struct {
			Kind string `json:"kind"`
			Spec struct {
				Group string `json:"group"`
				Names struct {
					Kind string `json:"kind"`
				} `json:"names"`
				Versions []struct {
					Name   string `json:"name"`
					Served bool   `json:"served"`
					Schema struct {
						OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
					} `json:"schema"`
				} `json:"versions"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal([]byte(part), &crd); err != nil {
			return n, err
		}
		if crd.Kind != "CustomResourceDefinition" {
			continue
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			k := gvk{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
			schema := convert(v.Schema.OpenAPIV3Schema, convertOptions{crd: true}).(map[string]any)
			// The API server fills in and checks these for every object; the
			// CRD schemas leave them loose.
			props, _ := schema["properties"].(map[string]any)
			if props == nil {
				props = map[string]any{}
				schema["properties"] = props
			}
			props["apiVersion"] = map[string]any{"type": "string", "enum": []any{crd.Spec.Group + "/" + v.Name}}
			props["kind"] = map[string]any{"type": "string", "enum": []any{crd.Spec.Names.Kind}}
			if _, ok := props["metadata"]; !ok {
				props["metadata"] = map[string]any{"type": "object"}
			}
			if _, set := schema["additionalProperties"]; !set {
				schema["additionalProperties"] = false
			}
			if err := write(k.path(dir), schema); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
