# Two Beaker systems reserved by a job template, checked in (their jobs
# cancelled) by `broker destroy`. BEAKER_URL, BEAKER_USER and
# BEAKER_PASSWORD come from the environment; the password is never stored.
environment = "beaker-lab"

variable "family" {
  type    = string
  default = "RedHatEnterpriseLinux9"
}

provider "beaker" "hub" {
  hub_url      = env("BEAKER_URL")
  username     = env("BEAKER_USER")
  password     = env("BEAKER_PASSWORD")
  max_job_wait = "6h"
}

host "system" {
  provider = "beaker.hub"
  count    = 2
  lease    = "24h"
  args = {
    job_xml = templatefile("beaker-job.xml.tftpl", { family = var.family, hours = 24 })
  }
}
