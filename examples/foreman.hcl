# Two hosts built by Foreman from a hostgroup, deleted by `broker destroy`.
# FOREMAN_URL, FOREMAN_USER and FOREMAN_TOKEN (a personal access token)
# come from the environment; the token is never stored.
environment = "foreman-lab"

provider "foreman" "lab" {
  url           = env("FOREMAN_URL")
  username      = env("FOREMAN_USER")
  token         = env("FOREMAN_TOKEN")
  organization  = "Default Organization"
  location      = "Default Location"
  build_timeout = "45m"
}

host "sat" {
  provider = "foreman.lab"
  count    = 2
  lease    = "8h"
  labels   = { role = "satellite" }
  args = {
    hostgroup          = "qe/satellite"
    parameters         = { role = "satellite" }
    compute_attributes = { cpus = "4", memory = "17179869184" }
  }
  setup {
    run = ["hostnamectl"]
  }
}
