// Package config reads a service's configuration from environment variables
// into one struct, and reports every problem with it in a single error so
// that a broken deployment is fixed in one round trip, not one per variable.
package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/caarlos0/env/v11"
)

// Defaulter is implemented by configuration structs that set their own
// defaults: every config part of this project does, so that each default
// literal is written once, in code, and not again in an envDefault tag.
// Load calls it on every nested part and then on the whole, before parsing,
// so a service's SetDefaults can override a shared part's default (its own
// HTTP port, its consumer group).
type Defaulter interface {
	SetDefaults()
}

// Validator is implemented by configuration structs that check their own
// values after parsing, for rules struct tags cannot express (ranges,
// allowed values, fields that depend on each other).
type Validator interface {
	Validate() error
}

// Load parses environment variables into a new T using its `env`,
// `envDefault` and `envPrefix` struct tags (github.com/caarlos0/env/v11).
// First SetDefaults is called on every nested struct field implementing
// Defaulter (innermost first) and then on *T if it does; if *T implements
// Validator, Validate is called after parsing.
//
// The returned error lists every problem: each required variable that is
// missing, each variable whose value cannot be parsed (named by variable,
// not by Go field), and the error from Validate. Validate runs even when
// parsing failed, so a bad LOG_FORMAT is reported together with a missing
// DATABASE_URL rather than on the next attempt; fields that failed to parse
// hold their zero value at that point.
func Load[T any]() (T, error) {
	var cfg T
	var problems []error

	// Defaults set here survive parsing: env leaves a field alone when its
	// variable is unset and its tag has no envDefault. That is how each
	// service gives a shared field (such as HTTP_PORT) its own default.
	setDefaults(reflect.ValueOf(&cfg).Elem())
	if err := env.Parse(&cfg); err != nil {
		problems = append(problems, flatten(err, leaves(reflect.TypeOf(cfg)))...)
	}
	if v, ok := any(&cfg).(Validator); ok {
		if err := v.Validate(); err != nil {
			problems = append(problems, err)
		}
	}
	if len(problems) > 0 {
		return cfg, &Error{Problems: problems}
	}
	return cfg, nil
}

// setDefaults calls SetDefaults on every struct reachable through v's
// exported struct fields, parts before the struct holding them, and then
// on v itself. Pointer fields are skipped: they are nil before parsing.
func setDefaults(v reflect.Value) {
	if v.Kind() != reflect.Struct {
		return
	}
	for i := range v.NumField() {
		if f := v.Field(i); f.CanSet() && f.Kind() == reflect.Struct {
			setDefaults(f)
		}
	}
	if d, ok := v.Addr().Interface().(Defaulter); ok {
		d.SetDefaults()
	}
}

// Error is returned by Load and lists every configuration problem found.
type Error struct {
	// Problems holds one error per bad or missing variable, plus the error
	// from Validate, if any.
	Problems []error
}

// Error joins all problems on one line, so that the whole list shows up in
// a single log record or crash message.
func (e *Error) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return "invalid configuration: " + strings.Join(msgs, "; ")
}

// Unwrap lets errors.Is and errors.As see each problem.
func (e *Error) Unwrap() []error { return e.Problems }

// flatten turns env's AggregateError into one error per problem. env names
// missing variables itself but reports unparsable values by Go field name,
// which means nothing to the person editing a deployment, so those are
// rewritten to name the variable.
func flatten(err error, fields map[fieldID][]leaf) []error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return []error{err}
	}
	out := make([]error, 0, len(agg.Errors))
	// env and leaves walk fields in the same order, so the n-th parse error
	// for a field ID belongs to the n-th variable of that ID that fails.
	seen := map[fieldID]int{}
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			id := fieldID{pe.Name, pe.Type}
			if bad := badVars(fields[id], pe.Type); seen[id] < len(bad) {
				out = append(out, &ParseError{Var: bad[seen[id]], Err: pe.Err})
				seen[id]++
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

// badVars returns the variables among candidates whose value does not
// parse. Several candidates share a Go name and type when nested structs
// repeat a field (Port in two of them); parsing each one alone tells which
// variable env tripped on.
func badVars(candidates []leaf, typ reflect.Type) []string {
	if len(candidates) == 1 {
		return []string{candidates[0].key}
	}
	var bad []string
	for _, c := range candidates {
		single := reflect.StructOf([]reflect.StructField{{Name: "V", Type: typ, Tag: c.tag}})
		if env.Parse(reflect.New(single).Interface()) != nil {
			bad = append(bad, c.key)
		}
	}
	return bad
}

// ParseError reports an environment variable whose value cannot be
// converted to its field's type.
type ParseError struct {
	// Var names the variable.
	Var string
	// Err is the conversion error, which quotes the bad value.
	Err error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s: invalid value: %v", e.Var, e.Err)
}

// Unwrap returns the conversion error.
func (e *ParseError) Unwrap() error { return e.Err }

type fieldID struct {
	name string
	typ  reflect.Type
}

// leaf is one variable env reads: its full name and a struct tag that
// reads the same variable the same way, for parsing it on its own.
type leaf struct {
	key string
	tag reflect.StructTag
}

// leaves maps each tagged field of t, nested structs included, to the
// variables env reads it from, following env's own rule that a nested
// struct's `envPrefix` is prepended to the keys inside it.
func leaves(t reflect.Type) map[fieldID][]leaf {
	out := map[fieldID][]leaf{}
	onPath := map[reflect.Type]bool{} // guards against self-referencing types
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		if onPath[t] {
			return
		}
		onPath[t] = true
		defer delete(onPath, t)
		for f := range t.Fields() {
			if !f.IsExported() {
				continue
			}
			key, _, _ := strings.Cut(f.Tag.Get("env"), ",")
			if key == "-" {
				continue
			}
			if key != "" {
				id := fieldID{f.Name, f.Type}
				out[id] = append(out[id], leaf{key: prefix + key, tag: singleTag(prefix+key, f.Tag)})
			}
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				walk(ft, prefix+f.Tag.Get("envPrefix"))
			}
		}
	}
	if t != nil && t.Kind() == reflect.Struct {
		walk(t, "")
	}
	return out
}

// singleTag rebuilds tag to read key directly, keeping the tags that
// change how the value is parsed.
func singleTag(key string, tag reflect.StructTag) reflect.StructTag {
	s := fmt.Sprintf("env:%q", key)
	for _, name := range []string{"envDefault", "envSeparator", "envKeyValSeparator"} {
		if v, ok := tag.Lookup(name); ok {
			s += fmt.Sprintf(" %s:%q", name, v)
		}
	}
	return reflect.StructTag(s)
}

// ValidateEach validates each part of a configuration (the nested Log, HTTP,
// Kafka, … structs) and joins their errors, so a service's Validate reports
// every problem at once without a loop of its own.
func ValidateEach(parts ...Validator) error {
	var errs []error
	for _, p := range parts {
		if err := p.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
