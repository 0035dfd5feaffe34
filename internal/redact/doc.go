// Package redact hides secrets in text that leaves broker: rendered errors,
// --output-file, reports, printed settings, the log file.
//
// A Secrets set collects the sensitive values one process knows (provider
// settings the provider types mark sensitive, state and connection
// passwords, sensitive variables, passwords inside URLs) and replaces each
// with Mask wherever it appears; independently of the set, the userinfo of
// every URL holding a password is replaced. The set is the last line of
// defence: code should not put secrets in messages in the first place.
//
// Package redact must not know where secrets come from (the caller adds
// them) nor write anything itself.
package redact
