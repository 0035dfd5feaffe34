# Two virtual machines on this machine's libvirt, from a cloud image.
#
#   virsh vol-upload (or copy) debian-12-genericcloud-amd64.qcow2 into the pool "default", then
#   broker apply -f examples/libvirt.hcl
#   broker exec -f examples/libvirt.hcl host.vm -- uname -a
#   broker destroy -f examples/libvirt.hcl
environment = "libvirt-demo"

provider "libvirt" "local" {
  uri        = "qemu:///system"
  pool       = "default"
  network    = "default"
  base_image = "debian-12-genericcloud-amd64.qcow2"
}

host "vm" {
  provider = "libvirt.local"
  count    = 2
  lease    = "4h"
  args = {
    vcpus     = 2
    memory    = "2G"
    disk_size = "20G"
    user_data = <<-EOT
      #cloud-config
      disable_root: false
      packages: [python3]
    EOT
  }
  setup { run = ["cloud-init status --wait || true", "uname -r"] }
}
