// Package schema declares a provider's settings and arguments once, as a
// list of typed fields (name, type, required or default, doc, checks such
// as URL, duration, enumeration, positive number), and derives everything
// else from that one declaration:
//
//   - the hcldec spec of the provider block, whose checks report a bad
//     value with its own source range at `broker validate`;
//   - the check of arguments, from a manifest (the caller points at the
//     offending key) or a command line, with "did you mean" for unknown
//     names when the set is closed;
//   - the decoding into the provider's tagged struct (`schema:"name"`),
//     defaults filled, so that a provider never reads cty values by hand;
//   - the help `broker providers TYPE` prints and the README documents.
//
// A schema is open when the service takes free-form arguments (AWX extra
// vars): undeclared names pass through unchecked.
//
// Package schema must not know any provider, import providers, manifest
// or state, or print.
package schema
