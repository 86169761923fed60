package agentgateway

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// configSchema is agentgateway v1.4.1's own JSON schema for its standalone config file, copied
// unchanged from the project's release (schema/config.schema.json). It forbids unknown fields,
// so a typo such as "failureMod" fails here rather than being ignored at run time.
//
//go:embed schema/config.schema.json
var configSchema []byte

const configSchemaURL = "https://agentgateway.dev/schema/v1.4.1/config.schema.json"

// Schema is agentgateway's compiled config schema.
type Schema struct{ compiled *jsonschema.Schema }

// LoadSchema compiles the embedded agentgateway config schema.
func LoadSchema() (*Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(configSchema))
	if err != nil {
		return nil, fmt.Errorf("read agentgateway config schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(configSchemaURL, doc); err != nil {
		return nil, fmt.Errorf("add agentgateway config schema: %w", err)
	}
	compiled, err := c.Compile(configSchemaURL)
	if err != nil {
		return nil, fmt.Errorf("compile agentgateway config schema: %w", err)
	}
	return &Schema{compiled: compiled}, nil
}

// Validate checks a YAML config file against the schema.
func (s *Schema) Validate(configYAML []byte) error {
	var doc any
	if err := yaml.Unmarshal(configYAML, &doc); err != nil {
		return fmt.Errorf("parse agentgateway config: %w", err)
	}
	// The validator wants JSON's value model (float64 numbers, string-keyed maps): round-trip
	// through JSON rather than convert YAML's types by hand.
	asJSON, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("agentgateway config is not representable as JSON: %w", err)
	}
	value, err := jsonschema.UnmarshalJSON(bytes.NewReader(asJSON))
	if err != nil {
		return fmt.Errorf("re-read agentgateway config as JSON: %w", err)
	}
	if err := s.compiled.Validate(value); err != nil {
		return fmt.Errorf("agentgateway config does not match its schema: %w", err)
	}
	return nil
}
