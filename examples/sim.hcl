# A lab made of simulated hosts: no service is contacted, so it shows the
# shape of a manifest and of a plan anywhere. See the README's walkthrough.
environment = "sim-demo"

variable "rhel" {
  type        = string
  default     = "9.4"
  description = "RHEL version the simulated VMs pretend to run"
}

variable "clients" {
  type    = number
  default = 3
}

locals {
  team = "qe-ui"
}

provider "sim" "lab" {
  default = true
  latency = "200ms"
}

nick "rhel9" {
  provider = "sim.lab"
  args     = { template = "deploy-rhel", rhel_version = var.rhel, team = local.team }
}

host "satellite" {
  nick   = "rhel9"
  lease  = "6h"
  labels = { role = "satellite" }
  setup {
    run     = ["dnf -y install satellite", "satellite-installer --scenario satellite"]
    timeout = "30m"
  }
}

host "client" {
  nick   = "rhel9"
  count  = var.clients
  lease  = "2h"
  labels = { role = "client" }
  args   = { memory = 4096 }
  # This reference makes every client wait for the satellite.
  setup {
    run = ["register --server ${host.satellite[0].hostname}"]
  }
}

hook "announce" {
  on    = ["after_setup"]
  when  = "labels.role == \"satellite\""
  local = ["echo \"satellite ready: $BROKER_HOST_HOSTNAME\""]
}
