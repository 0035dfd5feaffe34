# Settings shared by the three runners of the walkthrough: the state lives
# in one etcd on this machine. Copy this file into each runner's
# BROKER_DIRECTORY.
state {
  backend   = "etcd"
  endpoints = ["http://127.0.0.1:2379"]
  prefix    = "/broker/three-runners"
  lock_ttl  = "10s"
}

provider "sim" "lab" {
  default = true
  latency = "2s"            # slow enough to watch runners take turns
  path    = "/tmp/three-runners-sim.db"   # one simulated lab for all runners
}
