package pyconfig

import (
	"strconv"
	"strings"
)

// Key says what one Python broker setting is here: the attribute it
// becomes (To, its value in seconds written as a duration when Seconds),
// or why it is left out (Ignore).
type Key struct {
	To      string
	Seconds bool
	Ignore  string
}

// pythonKeys maps, per block of this broker (ssh, logging, awx, docker),
// the Python settings whose name or meaning differ. Keys not listed keep
// their name.
var pythonKeys = map[string]map[string]Key{
	"ssh": {
		"host_username":           {To: "user"},
		"host_ssh_port":           {To: "port"},
		"host_ssh_key_filename":   {To: "private_key_file"},
		"host_ipv6":               {To: "ipv6"},
		"host_connection_timeout": {To: "connect_timeout", Seconds: true},
		"host_timeout":            {To: "connect_timeout", Seconds: true},
		"host_password":           {Ignore: "this broker logs in with keys or an agent, never a stored password"},
		"backend":                 {Ignore: "this broker has one SSH implementation"},
		"host_ipv4_fallback":      {Ignore: "this broker tries every address the host name resolves to"},
	},
	"logging": {
		"file_level":    {To: "level"},
		"log_path":      {To: "file"},
		"console_level": {Ignore: "the console shows notes, warnings and errors; the log file's level is logging.level (file_level) or --log-level"},
		"structured":    {Ignore: "the log file is always key=value lines"},
	},
	"awx": {
		"base_url":               {To: "url"},
		"workflow_timeout":       {To: "workflow_timeout", Seconds: true},
		"workflow_poll_interval": {To: "poll_interval", Seconds: true},
		"max_resilient_wait":     {To: "max_resilient_wait", Seconds: true},
		"verify":                 {To: "verify_tls"},
		"results_limit":          {Ignore: "this broker pages through every result"},
	},
	"docker": {
		"runtime":       {To: "engine"},
		"host_username": {Ignore: "the engine host's login comes from ssh settings or the ssh:// URL of host"},
		"host_password": {Ignore: "the engine host's login comes from ssh settings or the ssh:// URL of host"},
		"host_port":     {Ignore: "the engine host's port is part of the ssh:// URL of host"},
		"results_limit": {Ignore: "this broker lists every container"},
	},
	"beaker": {
		"max_job_wait": {To: "max_job_wait", Seconds: true},
		"verify":       {To: "verify_tls"},
		"auth":         {Ignore: "this broker logs in to Beaker with username and password only"},
	},
	"foreman": {
		"foreman_url":      {To: "url"},
		"foreman_username": {To: "username"},
		"foreman_password": {To: "password"},
		"verify":           {To: "verify_tls"},
		"hostgroup":        {Ignore: "a hostgroup is a checkout argument here (--hostgroup)"},
	},
	"openstack": {
		"server_timeout":       {To: "server_timeout", Seconds: true},
		"identity_api_version": {Ignore: "this broker speaks Keystone v3 only"},
	},
}

// PythonKey tells what the Python setting key of block (ssh, logging, or a
// provider type's name) is here; ok is false for a key with no entry,
// which keeps its name.
func PythonKey(block, key string) (k Key, ok bool) {
	k, ok = pythonKeys[block][strings.ToLower(key)]
	return k, ok
}

// PythonOnlyBlocks are the Python broker's top-level settings with no
// counterpart in this build, lower-cased, with why.
var PythonOnlyBlocks = map[string]string{
	"libvirt":         "the Python broker's libvirt settings have no counterpart; declare a provider \"libvirt\" block",
	"scenario_import": "this broker has no scenarios (manifests replace them)",
}

// PythonProviderNames are the Python broker's provider section names,
// lower-cased, and the type each is here.
var PythonProviderNames = map[string]string{
	"ansibletower": "awx",
	"container":    "docker",
	"testprovider": "sim",
	"openstack":    "openstack",
	"beaker":       "beaker",
	"foreman":      "foreman",
}

// SecondsValue writes a number of seconds as a duration ("3600" →
// "3600s"); other values are returned as they are.
func SecondsValue(v string) string {
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return v + "s"
	}
	return v
}
