// Package all registers every provider broker ships. Programs import it for
// its side effect: import _ "github.com/labbroker/broker/providers/all".
package all

import (
	_ "github.com/labbroker/broker/providers/awx"       // awx, aliases AnsibleTower, aap
	_ "github.com/labbroker/broker/providers/beaker"    // beaker: Beaker jobs that reserve lab systems
	_ "github.com/labbroker/broker/providers/docker"    // docker, aliases podman, Container
	_ "github.com/labbroker/broker/providers/foreman"   // foreman: hosts built from hostgroups
	_ "github.com/labbroker/broker/providers/libvirt"   // libvirt: QEMU/KVM virtual machines
	_ "github.com/labbroker/broker/providers/openstack" // openstack (OpenStack)
	_ "github.com/labbroker/broker/providers/sim"       // sim, alias TestProvider
	_ "github.com/labbroker/broker/providers/static"    // static: pools of existing machines
)
