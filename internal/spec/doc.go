// Package spec decodes experiment specifications (YAML) strictly and
// reports every problem as "file:line:col: field "name": problem", so a
// typo in experiments/*.yaml points at the line to fix instead of silently
// running a different experiment.
//
// Decode rejects unknown fields, wrong types, duplicate keys and malformed
// YAML. Semantic checks that only the experiment driver can make (a size
// must be ≥ 1, a field is required) report through FieldError and Required,
// which locate a field by its YAML path ("$.cases[0].n").
package spec
