# The quickstart: three containers from the local broker-sshd image, each
# reachable over SSH with broker's own key, set up with a command, and a hook
# that tells you when each is ready. `make demo` applies it.
environment = "quickstart"

provider "docker" "local" {
  default = true            # DOCKER_HOST, or unix:///var/run/docker.sock
}

host "web" {
  provider = "docker.local"
  count    = 3
  lease    = "1h"
  labels   = { role = "web" }
  args = {
    image = "broker-sshd:bookworm"
    ports = ["22"]          # published on 127.0.0.1; broker connects over SSH
    env   = { ROLE = "web" }
  }
  setup {
    run     = ["echo 'hello from ${self.name}' > /etc/motd", "hostname"]
    timeout = "2m"
  }
}

hook "ready" {
  on    = ["after_setup"]
  local = ["echo \"$BROKER_HOST_ADDRESS is up on port $BROKER_HOST_PORT\""]
}
