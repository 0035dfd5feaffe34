// Package beaker is broker's provider for Beaker lab systems (type
// "beaker"; the Python broker's "Beaker" is the same name, as names are
// looked up without regard to case).
//
// It speaks the hub's own API as the bkr client does, not by running bkr:
// XML-RPC on /client/, bkr's endpoint (auth.login_password, which sets the
// session cookie; jobs.upload; jobs.filter; taskactions.to_xml), through
// the small codec of package xmlrpc, and the REST resources GET /jobs/N
// and POST /jobs/N/status.
//
// Checkout submits job XML (argument job_xml: a file's path, or the XML
// itself as templatefile gives it in a manifest) or a clone of a job
// (job_id J:123, cloned through taskactions.to_xml). broker adds a marker
// "[broker.intent=ID]" to the job's whiteboard; the job id is reported
// through the request's Checkpoint at once. A submission whose answer is
// lost (a dropped connection, a 5xx) is looked for by its marker before
// it is retried, and an interrupted checkout resumes by waiting on the
// checkpointed job (or the job carrying its intent's marker), so no
// second job is queued. Checkout waits, polling /jobs/N, until every
// recipe holds its system (recipe Reserved, or its /distribution/reservesys
// task Running), and reports one host per recipe: the system's FQDN, user
// reached over SSH, facts (job and recipe ids, distro, arch, the job's link).
// A job that aborts, is cancelled, or ends without a reservation is a
// *JobError with the job's status and link; one that has no system within
// max_job_wait (or the argument max_wait) is cancelled and reported so.
//
// Check-in cancels the host's job (its provider id J:123, else the job_id
// fact of Python broker inventories, else the user's running job holding
// the FQDN); a job already ended or unknown is Gone. Extend runs
// extendtesttime.sh HOURS on the host through the request's Session, as
// the Python broker does. Sync lists the systems of the user's unfinished
// jobs; Execute runs a job to its end and returns its status and result;
// Describe lists jobs ("jobs") and shows one with its clone XML
// ("job" J:123).
//
// The password is sensitive: it is sent only in auth.login_password and
// appears in no error, log, fact or recipe.
package beaker
