// Package awx is broker's provider for AWX, Ansible Tower and the Ansible
// Automation Platform controller (type "awx", aliases "AnsibleTower" and
// "aap").
//
// Hosts are checked out by launching a workflow job template (arg
// "workflow") or a job template (arg "job_template"); every other argument
// goes to the job as an extra var, together with broker's labels
// (_broker_labels), the recipe (_broker_args) and a launch id
// (_broker_launch_id); a string argument holding a JSON list or object is
// sent as that structure, as the Python broker sends it. The job id is reported through the request's
// Checkpoint as soon as AWX returns it, so an interrupted checkout resumes
// by waiting on the same job rather than launching another. Hosts are built
// from the job's artifacts (the last node's by default, or all nodes'
// merged): the hostname from the first key ending in "fqdn", the name from
// "name" or "vm_provisioned"; lists there, or a "hosts" list, make several
// hosts from one job.
//
// The user's labels (checkout and execute -l k=v,k2; not broker's own
// broker.* labels) and an argument provider_labels (a map) become AWX labels
// on the job ("key=value", or "key" without a value), made in the
// template's organization when missing. When a workflow fails, hosts its
// successful nodes report as vm_name are checked in (setting
// dangling_behavior "checkin", the Python broker's default) or kept and
// named in the error ("store", "prompt"), and the error names the failed
// nodes with their job events' messages: the last failed node's first
// reason (error_scope "last") or all of them ("all"). Describe applies a
// request's results filter and limit (default: setting results_limit) to
// its listings, which include the Python broker's templates and flavors.
//
// Check-in runs the release workflow (remove-vm) with source_vm and the
// stored recipe; a host AWX no longer knows is reported Gone. Extend runs
// the extend workflow (extend-vm) with target_vm and new_expire_time.
// Sync lists the hosts of the inventories whose name contains the user.
//
// The client speaks the REST API v2 with Bearer tokens. With a username and
// password instead of a token it creates a temporary personal token and
// deletes it at Close. The API prefix is /api/v2/, or /api/controller/v2/
// on AAP 2.5 and later (found from the API root, or set by aap_version).
// Connection errors and 5xx answers are retried with backoff for at most
// max_resilient_wait; a launch is retried only after checking, by its
// launch id, that the failed attempt did not start a job. What waiting
// cannot fix is not retried (UnreachableError, APIError with a Hint): a
// refused connection or an unknown host name before the service has ever
// answered this client (a wrong url: after the first answer the same
// failure is a restart), an untrusted TLS certificate, 401 and 403.
//
// Settings are declared once in settings.go (SettingsSchema): url must be
// an http or https URL, durations are Go durations or seconds, and token
// and password are marked sensitive. The argument set (ArgsSchema) is open:
// workflow, job_template, inventory (tower_inventory) and artifacts are
// checked, every other argument is an extra var and passes as it is.
//
// Secrets (token, password) never appear in errors, logs, facts or
// recipes. The package must not import state or print; it logs through
// the configured slog logger.
package awx
