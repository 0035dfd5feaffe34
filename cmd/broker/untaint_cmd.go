package main

// UntaintCmd takes the taint mark off hosts.
type UntaintCmd struct {
	Hosts []string `arg:"" name:"host" placeholder:"ADDRESS|ID" help:"Tainted hosts: addresses (host.web[1]) in the environment, or record ids."`
	lockFlags
}

// Help is shown by `broker untaint --help`.
func (c *UntaintCmd) Help() string {
	return `Takes the taint mark off hosts: their status is ready again and the
next plan no longer replaces them. A host that is not tainted is an error.`
}

// Run untaints.
func (c *UntaintCmd) Run(g *Globals, ctx *interruptContext) error {
	return taint(ctx, g, c.Hosts, true, c.LockTimeout)
}
