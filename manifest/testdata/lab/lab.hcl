environment = "satellite-ui"

variable "rhel" {
  type    = string
  default = "9.4"
}

variable "clients" {
  type    = number
  default = 2
}

variable "token" {
  type      = string
  default   = "t0ken"
  sensitive = true
}

locals {
  image = "rhel${split(".", var.rhel)[0]}-sshd:latest"
  motd  = templatefile("files/motd.tmpl", { env = "satellite-ui" })
}

provider "awx" "satlab" {
  url   = "https://awx.example.com"
  token = var.token
}

provider "docker" "local" {
  default         = true
  max_concurrency = 4
  max_lease       = "none"
}

nick "rhel9" {
  provider = "awx.satlab"
  args     = { workflow = "deploy-rhel", deploy_rhel_version = var.rhel }
}

host "satellite" {
  nick   = "rhel9"
  lease  = "1d12h"
  labels = { role = "satellite" }
  args   = { workflow = "deploy-sat" }
  setup {
    upload {
      source      = "files/sat.repo"
      destination = "/etc/yum.repos.d/sat.repo"
      mode        = "0644"
    }
    run     = ["dnf -y install satellite", "echo '${local.motd}'"]
    timeout = "30m"
  }
  teardown {
    run = ["subscription-manager unregister"]
  }
}

host "client" {
  provider = "docker"
  count    = var.clients
  args     = { image = local.image, ports = ["22"] }
  lease    = "none"
  setup {
    run      = ["register --server ${host.satellite[0].hostname} --name ${self.name}-${count.index}"]
    wait_for = "none"
  }
  connection {
    user    = "root"
    bastion = host.satellite[0].address
  }
}

host "sim" {
  provider = "sim"
}

hook "announce" {
  on    = ["after_setup"]
  when  = "host.labels.role == 'satellite'"
  local = ["notify-lab ${host.hostname} ${upper(host.labels.role)}"]
}
