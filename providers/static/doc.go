// Package static is the provider of pools of existing machines: lab hosts
// that are neither made nor destroyed, only lent. A checkout reserves a
// free member of the pool atomically in broker's state
// (providers.Reservations, pool name "static.INSTANCE"), so two runners
// sharing one state never get the same machine; a check-in releases it.
//
//	provider "static" "lab" {
//	  hosts = ["lab1.example.com", "lab2.example.com:2222"]
//	  user  = "root"                      # default login for every member
//	  host {                              # optional: a member's labels, user, port
//	    name   = "lab1.example.com"
//	    labels = { gpu = "yes" }
//	  }
//	}
//
// Arguments: match = { gpu = "yes" } keeps members carrying all those
// labels; host = "lab1.example.com" asks for one member by name. Settings
// and arguments are declared once in settings.go (SettingsSchema,
// ArgsSchema; the argument set is closed); a member that is not "host" or
// "host:port" is refused at validate time.
//
// The package owns the pool's membership and reservation bookkeeping. It
// must not contact the machines (setup and exec do that through
// executor/remote) nor import state: the reservation holder is recorded as
// the broker.* labels of the checkout, JSON-encoded, so that Sync can give
// them back to reap.
package static
