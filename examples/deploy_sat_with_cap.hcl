# The broker-scenarios "deploy_sat_with_cap" scenario as a manifest: a
# Satellite and a Capsule from AWX workflows, then the integration workflow
# fed with both hostnames, then the hostnames as outputs.
#
#   export AWX_URL=https://awx.example.com AWX_TOKEN=…
#   broker plan    -f examples/deploy_sat_with_cap.hcl --var sat_version=6.16
#   broker apply   -f examples/deploy_sat_with_cap.hcl --var sat_version=6.16
#   broker output  -f examples/deploy_sat_with_cap.hcl satellite
#   broker destroy -f examples/deploy_sat_with_cap.hcl
#
# Unlike the scenario, apply is idempotent: applying again changes nothing,
# and the integration runs again only when what it is fed changes (a host
# replaced, another version) or with --replace action.integrate.

environment = "sat-with-cap"

# The scenario's variables (NET_TYPE, RHEL_VER, SAT_VER, SNAP_VER). A null
# argument is left out of the workflow's extra vars, as "X or None" is.
variable "net_type" { default = "ipv4" }
variable "rhel_version" {
  type    = string
  default = null
}
variable "sat_version" {
  type    = string
  default = null
}
variable "snap_version" {
  type    = string
  default = null
}
variable "poll_interval" { default = "10s" }

provider "awx" "satlab" {
  url              = env("AWX_URL")
  token            = env("AWX_TOKEN")
  release_workflow = "remove-vm"
  poll_interval    = var.poll_interval
}

locals {
  deploy = {
    deploy_network_type = var.net_type
    deploy_rhel_version = var.rhel_version
    deploy_sat_version  = var.sat_version
    deploy_snap_version = var.snap_version
  }
}

# Step "Deploy Satellite".
host "satellite" {
  provider = "awx.satlab"
  args     = merge(local.deploy, { workflow = "deploy-satellite", note = "Sat with Cap" })
  lease    = "1d"
  labels   = { role = "satellite" }
}

# Step "Deploy Capsule".
host "capsule" {
  provider = "awx.satlab"
  args     = merge(local.deploy, { workflow = "deploy-capsule", note = "Cap with Sat" })
  lease    = "1d"
  labels   = { role = "capsule", satellite = host.satellite[0].hostname }
}

# Step "Bind the Capsule to the Satellite": runs once both hosts are ready;
# its artifacts are action.integrate.result (capture: as: in the scenario).
action "integrate" {
  provider = "awx.satlab"
  args = {
    workflow           = "satellite-capsule-integration"
    satellite_hostname = host.satellite[0].hostname
    satellite_name     = host.satellite[0].name
    capsule_hostname   = host.capsule[0].hostname
    capsule_name       = host.capsule[0].name
    tower_inventory    = host.satellite[0].facts.tower_inventory
  }
  artifacts = "last"
  timeout   = "2h"
  retry {
    attempts = 2
    delay    = "1m"
  }
}

# Step "Validate Capsule Integration" (an exit step with a when): fails the
# apply when the workflow did not report success.
action "validate" {
  when  = try(action.integrate.result.data_out.capsule_integration_status, "") != "0"
  local = ["sh", "-c", "echo 'capsule integration failed: capsule_integration_status is not 0' >&2; exit 1"]
}

# Step "Deployment Summary".
output "satellite" { value = host.satellite[0].hostname }
output "capsule" { value = host.capsule[0].hostname }
output "capsule_integration_status" {
  value = action.integrate.result.data_out.capsule_integration_status
}
