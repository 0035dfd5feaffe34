// Command broker-awx-emulator serves the AWX API emulator of
// providers/awx/awxtest on 127.0.0.1 for demos and manual tests of broker's
// awx provider. It is not a provider and keeps everything in memory.
//
//	broker-awx-emulator --listen 127.0.0.1:8043 --token demo-token --users alice:pw,bob:pw:bob-token
//
// It prints the URL to use as the provider's url, then serves until
// interrupted. Without --workflows it offers the workflows of the Python
// broker's README: deploy-rhel (deploy_rhel_version), remove-vm, extend-vm,
// list-templates, list-flavors, and the job template run-command.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/labbroker/broker/providers/awx/awxtest"
)

// catalog is the --workflows file: a JSON object with workflows,
// job_templates and inventories, or a JSON list of workflows.
type catalog struct {
	Workflows    []awxtest.Workflow    `json:"workflows"`
	JobTemplates []awxtest.JobTemplate `json:"job_templates"`
	Inventories  []awxtest.Inventory   `json:"inventories"`
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "broker-awx-emulator: error: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("broker-awx-emulator", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	token := fs.String("token", "", "personal token of the user admin (default: admin-token)")
	users := fs.String("users", "", "more users: name:password[:token],…")
	workflows := fs.String("workflows", "", "JSON file of workflows (a list, or {workflows, job_templates, inventories})")
	aap := fs.Bool("aap", false, "serve the AAP 2.5 layout (/api/controller/v2/)")
	polls := fs.Int("polls", 3, "polls a job takes to finish")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts := awxtest.Options{Listen: *listen, AAP: *aap, Polls: *polls}
	admin := awxtest.User{Username: "admin", Password: "password", Tokens: []string{"admin-token"}}
	if *token != "" {
		admin.Tokens = []string{*token}
	}
	opts.Users = []awxtest.User{admin}
	if *users != "" {
		for _, spec := range strings.Split(*users, ",") {
			parts := strings.Split(strings.TrimSpace(spec), ":")
			if len(parts) < 2 || parts[0] == "" {
				return fmt.Errorf("--users: %q is not name:password[:token]", spec)
			}
			u := awxtest.User{Username: parts[0], Password: parts[1]}
			if len(parts) > 2 && parts[2] != "" {
				u.Tokens = []string{parts[2]}
			}
			opts.Users = append(opts.Users, u)
		}
	}
	if *workflows != "" {
		data, err := os.ReadFile(*workflows)
		if err != nil {
			return fmt.Errorf("--workflows: %w", err)
		}
		var c catalog
		if err := json.Unmarshal(data, &c.Workflows); err != nil {
			if err2 := json.Unmarshal(data, &c); err2 != nil {
				return fmt.Errorf("--workflows %s: %w", *workflows, errors.Join(err, err2))
			}
		}
		opts.Workflows, opts.JobTemplates, opts.Inventories = c.Workflows, c.JobTemplates, c.Inventories
	}
	s := awxtest.New(opts)
	defer s.Close()
	fmt.Printf("%s\n", s.URL())
	fmt.Fprintf(os.Stderr, "broker-awx-emulator: serving the AWX API at %s%s; users:", s.URL(), s.Prefix())
	for _, u := range opts.Users {
		fmt.Fprintf(os.Stderr, " %s", u.Username)
	}
	fmt.Fprintln(os.Stderr, "; interrupt to stop")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	return nil
}
