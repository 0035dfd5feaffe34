# A small lab for TestApply: a server reached over SSH, set up by broker,
# and two clients reached over docker exec. brokertest applies it in an
# environment named after the test, so the environment attribute is left
# out.

provider "docker" "local" {}

host "server" {
  provider = "docker.local"
  args     = { image = "broker-sshd:bookworm", ports = ["22"] }
  lease    = "1h"
  labels   = { role = "server" }
  setup {
    run = ["echo 'listening' > /tmp/service.state"]
  }
}

host "client" {
  provider = "docker.local"
  count    = 2
  args     = { image = "broker-busybox:latest" }
  lease    = "1h"
  labels   = { role = "client" }
}
