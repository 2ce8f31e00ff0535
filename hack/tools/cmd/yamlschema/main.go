// Command yamlschema validates YAML documents against a JSON schema and
// prints each violation with its location, for files that have a published
// schema but no validator of their own (skaffold.yaml).
//
//	yamlschema -schema skaffold-v4beta14.json skaffold.yaml...
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/santhosh-tekuri/jsonschema/v6"
	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "yamlschema:", err)
		os.Exit(1)
	}
}

func run() error {
	schemaFile := flag.String("schema", "", "JSON schema file")
	flag.Parse()
	if *schemaFile == "" || flag.NArg() == 0 {
		return errors.New("usage: yamlschema -schema SCHEMA.json FILE.yaml...")
	}
	c := jsonschema.NewCompiler()
	schema, err := c.Compile(*schemaFile)
	if err != nil {
		return fmt.Errorf("cannot compile %s: %w", *schemaFile, err)
	}
	failed := 0
	for _, f := range flag.Args() {
		docs, err := documents(f)
		if err != nil {
			return fmt.Errorf("cannot read %s: %w", f, err)
		}
		for i, doc := range docs {
			if err := schema.Validate(doc); err != nil {
				failed++
				fmt.Fprintf(os.Stderr, "%s (document %d): %v\n", f, i+1, err)
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d document(s) do not match %s", failed, *schemaFile)
	}
	return nil
}

// documents decodes every YAML document of a file into JSON values.
func documents(file string) ([]any, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	dec := yamlv3.NewDecoder(bytes.NewReader(b))
	var out []any
	for {
		var node yamlv3.Node
		if err := dec.Decode(&node); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		raw, err := yamlv3.Marshal(&node)
		if err != nil {
			return nil, err
		}
		js, err := yaml.YAMLToJSON(raw)
		if err != nil {
			return nil, err
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
		if err != nil {
			return nil, err
		}
		if v != nil {
			out = append(out, v)
		}
	}
}
