package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// rpcProc is `broker rpc` (the test binary re-executed) on a pair of pipes.
type rpcProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr strings.Builder

	mu      sync.Mutex
	next    int
	waiting map[int]chan rpcResponse
	order   chan int // ids in the order their responses arrived
	done    chan struct{}
}

type rpcResponse struct {
	ID     int             `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    struct {
			Hint string `json:"hint"`
			Kind string `json:"kind"`
		} `json:"data"`
	} `json:"error"`
}

func startRPC(t *testing.T, dir string, env ...string) *rpcProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "rpc")
	cmd.Env = append(append(os.Environ(), asBroker+"=1", "BROKER_DIRECTORY="+filepath.Join(dir, ".broker"), "NO_COLOR=1"), env...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &rpcProc{t: t, cmd: cmd, waiting: map[int]chan rpcResponse{}, order: make(chan int, 100), done: make(chan struct{})}
	cmd.Stderr = &p.stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			var r rpcResponse
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Errorf("rpc wrote a line that is not a response: %q", sc.Text())
				continue
			}
			p.mu.Lock()
			ch := p.waiting[r.ID]
			delete(p.waiting, r.ID)
			p.mu.Unlock()
			p.order <- r.ID
			if ch == nil {
				t.Errorf("response to an id nobody sent: %s", sc.Text())
				continue
			}
			ch <- r
		}
	}()
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	return p
}

// send writes a request and returns where its response will come.
func (p *rpcProc) send(method string, params any) (int, chan rpcResponse) {
	p.t.Helper()
	p.mu.Lock()
	p.next++
	id := p.next
	ch := make(chan rpcResponse, 1)
	p.waiting[id] = ch
	p.mu.Unlock()
	b, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		p.t.Fatalf("write %s: %v", method, err)
	}
	return id, ch
}

// wait returns the response, failing if rpc ends first.
func (p *rpcProc) wait(method string, ch chan rpcResponse) rpcResponse {
	p.t.Helper()
	select {
	case r := <-ch:
		return r
	case <-p.done:
		select {
		case r := <-ch:
			return r
		default:
		}
		p.t.Fatalf("%s: broker rpc ended without answering; stderr:\n%s", method, p.stderr.String())
	}
	return rpcResponse{}
}

// call sends a request and decodes its result into out, failing on an error.
func (p *rpcProc) call(method string, params, out any) {
	p.t.Helper()
	_, ch := p.send(method, params)
	r := p.wait(method, ch)
	if r.Error != nil {
		p.t.Fatalf("%s: error %d %s (hint: %s)", method, r.Error.Code, r.Error.Message, r.Error.Data.Hint)
	}
	if out != nil {
		if err := json.Unmarshal(r.Result, out); err != nil {
			p.t.Fatalf("%s: result %s: %v", method, r.Result, err)
		}
	}
}

// fail sends a request that must fail and returns its error.
func (p *rpcProc) fail(method string, params any) rpcResponse {
	p.t.Helper()
	_, ch := p.send(method, params)
	r := p.wait(method, ch)
	if r.Error == nil {
		p.t.Fatalf("%s %v: succeeded with %s, want an error", method, params, r.Result)
	}
	return r
}

// close ends stdin and waits for the process; it must exit 0.
func (p *rpcProc) close() {
	p.t.Helper()
	_ = p.stdin.Close()
	<-p.done
	if err := p.cmd.Wait(); err != nil {
		p.t.Fatalf("broker rpc after stdin closed: %v; stderr:\n%s", err, p.stderr.String())
	}
}

type rpcHost struct {
	ID, Name, Hostname, Provider, Environment, Lease string
	Labels                                           map[string]string
}

type rpcHosts struct {
	Hosts []rpcHost `json:"hosts"`
}

type rpcRun struct {
	Status         int
	Stdout, Stderr string
	TimedOut       bool `json:"timed_out"`
}

// TestRPCSim drives broker rpc against the sim provider: checkout, inventory
// with a filter, extend, structured errors, checkin, and stdin closing
// with hosts held, which checks nothing in.
func TestRPCSim(t *testing.T) {
	dir := t.TempDir()
	p := startRPC(t, dir)

	var hello struct {
		Methods []string
	}
	p.call("hello", nil, &hello)
	if !strings.Contains(strings.Join(hello.Methods, ","), "checkout") {
		t.Errorf("hello lists methods %v", hello.Methods)
	}

	var co rpcHosts
	p.call("checkout", map[string]any{"provider": "sim", "count": 3, "labels": map[string]string{"suite": "rpc"}, "lease": "2h"}, &co)
	if len(co.Hosts) != 3 || co.Hosts[0].Provider != "sim.default" || co.Hosts[0].Labels["suite"] != "rpc" || co.Hosts[0].Lease == "" {
		t.Fatalf("checkout: %+v", co.Hosts)
	}

	var inv rpcHosts
	p.call("inventory", map[string]any{"filter": `labels.suite == "rpc"`}, &inv)
	if len(inv.Hosts) != 3 {
		t.Fatalf("inventory with a filter: %d hosts, want 3", len(inv.Hosts))
	}
	p.call("inventory", map[string]any{"filter": `labels.suite == "other"`}, &inv)
	if len(inv.Hosts) != 0 {
		t.Fatalf("inventory with a filter nothing passes: %d hosts", len(inv.Hosts))
	}

	var ext rpcHosts
	p.call("extend", map[string]any{"hosts": []string{co.Hosts[0].ID}, "lease": "10h"}, &ext)
	if len(ext.Hosts) != 1 || ext.Hosts[0].Lease <= co.Hosts[0].Lease {
		t.Errorf("extend: lease %q, was %q", ext.Hosts[0].Lease, co.Hosts[0].Lease)
	}

	// Structured errors.
	for _, c := range []struct {
		method string
		params any
		code   int
		kind   string
		hint   bool
	}{
		{"no_such_method", nil, -32601, "method_not_found", true},
		{"checkout", map[string]any{"provider": "sim", "cuont": 2}, -32602, "invalid_params", false},
		{"checkout", map[string]any{"provider": "nosuch"}, -32000, "failed", true},
		{"inventory", map[string]any{"filter": "labels.suite =="}, -32602, "invalid_params", false},
		{"run", map[string]any{"host": "nosuchid", "command": "true"}, -32001, "unknown_host", true},
		{"run", map[string]any{"host": co.Hosts[0].ID, "command": "true"}, -32002, "unreachable", false},
	} {
		r := p.fail(c.method, c.params)
		if r.Error.Code != c.code || r.Error.Data.Kind != c.kind || (c.hint && r.Error.Data.Hint == "") || r.Error.Message == "" {
			t.Errorf("%s %v: error %+v, want code %d kind %s (hint: %v)", c.method, c.params, *r.Error, c.code, c.kind, c.hint)
		}
	}

	var ex struct {
		Provider string
		Result   map[string]any
		Stdout   string
	}
	p.call("execute", map[string]any{"provider": "sim", "args": map[string]any{"test_action": "ping"}, "command": []string{"echo", "hi"}}, &ex)
	if ex.Provider != "sim.default" || ex.Result["args"].(map[string]any)["test_action"] != "ping" || !strings.Contains(ex.Stdout, `"command":["echo","hi"]`) {
		t.Errorf("execute: %+v", ex)
	}

	var ci struct {
		CheckedIn []string `json:"checked_in"`
	}
	p.call("checkin", map[string]any{"hosts": []string{co.Hosts[0].ID}}, &ci)
	if len(ci.CheckedIn) != 1 {
		t.Errorf("checkin: %+v", ci)
	}
	// Twice is harmless: the host is reported unknown.
	var again struct {
		CheckedIn []string `json:"checked_in"`
		Unknown   []string `json:"unknown"`
	}
	p.call("checkin", map[string]any{"hosts": []string{co.Hosts[0].ID}}, &again)
	if len(again.CheckedIn) != 0 || len(again.Unknown) != 1 {
		t.Errorf("second checkin: %+v", again)
	}
	// Stdin closes with two hosts held: nothing is checked in.
	p.close()
	left := inventory(t, dir)
	if len(left) != 2 {
		t.Fatalf("after stdin closed: %d hosts recorded, want the 2 not checked in", len(left))
	}
	if code, _, errs := runBroker(t, dir, "checkin", "--all"); code != 0 {
		t.Fatalf("checkin --all: %d %s", code, errs)
	}
}

// TestRPCDocker: an sshd container and a busybox one (docker exec): run
// with status, output, stdin and timeout, files both ways, one connection
// per host, and concurrent requests answered out of order.
func TestRPCDocker(t *testing.T) {
	env := dockerEnv(t)
	dir := t.TempDir()
	p := startRPC(t, dir, "BROKER_ENVIRONMENT="+env)

	var ssh, box rpcHosts
	p.call("checkout", map[string]any{"provider": "docker", "args": map[string]any{"image": "broker-sshd:bookworm", "ports": []string{"22"}}}, &ssh)
	argsFile := filepath.Join(dir, "args.json")
	writeFile(t, argsFile, `{"image": "broker-busybox:latest"}`)
	p.call("checkout", map[string]any{"args_file": argsFile}, &box)
	if ssh.Hosts[0].Environment != env {
		t.Fatalf("checkout recorded in %q, want %q", ssh.Hosts[0].Environment, env)
	}

	for _, h := range []rpcHost{ssh.Hosts[0], box.Hosts[0]} {
		var r rpcRun
		p.call("run", map[string]any{"host": h.ID, "command": "cat; echo oops >&2; exit 3", "stdin": "fed in\n"}, &r)
		if r.Status != 3 || r.Stdout != "fed in\n" || r.Stderr != "oops\n" || r.TimedOut {
			t.Errorf("%s: run: %+v", h.Name, r)
		}
		p.call("run", map[string]any{"host": h.ID, "command": "sleep 30", "timeout": 0.3}, &r)
		if r.Status != 124 || !r.TimedOut {
			t.Errorf("%s: run past its timeout: %+v", h.Name, r)
		}

		data := "line one\n\x00binary\xff\n"
		p.call("write_file", map[string]any{"host": h.ID, "path": "/tmp/written", "data": base64.StdEncoding.EncodeToString([]byte(data)), "mode": 0o600}, nil)
		p.call("run", map[string]any{"host": h.ID, "command": "stat -c %a /tmp/written"}, &r)
		if strings.TrimSpace(r.Stdout) != "600" {
			t.Errorf("%s: written file's mode %q, want 600", h.Name, r.Stdout)
		}
		var rf struct{ Data string }
		p.call("read_file", map[string]any{"host": h.ID, "path": "/tmp/written"}, &rf)
		if got, _ := base64.StdEncoding.DecodeString(rf.Data); string(got) != data {
			t.Errorf("%s: read_file %q, want %q", h.Name, got, data)
		}
		local := filepath.Join(dir, h.Name+".up")
		writeFile(t, local, "uploaded\n")
		p.call("upload", map[string]any{"host": h.ID, "local": local, "remote": "/tmp/up"}, nil)
		p.call("download", map[string]any{"host": h.ID, "remote": "/tmp/up", "local": local + ".back"}, nil)
		if b, err := os.ReadFile(local + ".back"); err != nil || string(b) != "uploaded\n" {
			t.Errorf("%s: upload then download: %q %v", h.Name, b, err)
		}
	}

	// One connection for the life of the process: the client's port is
	// the same for every command.
	var a, b rpcRun
	p.call("run", map[string]any{"host": ssh.Hosts[0].ID, "command": "echo $SSH_CONNECTION"}, &a)
	p.call("run", map[string]any{"host": ssh.Hosts[0].ID, "command": "echo $SSH_CONNECTION"}, &b)
	if a.Stdout == "\n" || a.Stdout != b.Stdout {
		t.Errorf("SSH_CONNECTION %q then %q: want one connection", a.Stdout, b.Stdout)
	}

	// Concurrent requests: a command waiting for a file, then a hello
	// answered while it waits, then the command that makes the file.
	slowID, slow := p.send("run", map[string]any{"host": box.Hosts[0].ID, "command": "while [ ! -e /tmp/go ]; do sleep 0.05; done; echo released"})
	helloID, hi := p.send("hello", nil)
	p.wait("hello", hi)
	_, rel := p.send("run", map[string]any{"host": box.Hosts[0].ID, "command": "touch /tmp/go"})
	p.wait("run", rel)
	r := p.wait("run", slow)
	if r.Error != nil || !strings.Contains(string(r.Result), "released") {
		t.Errorf("the waiting command: %s %+v", r.Result, r.Error)
	}
	var order []int
	for len(p.order) > 0 {
		order = append(order, <-p.order)
	}
	pos := map[int]int{}
	for i, id := range order {
		pos[id] = i
	}
	if pos[helloID] > pos[slowID] {
		t.Errorf("responses in order %v: hello (%d) should be answered before the waiting command (%d)", order, helloID, slowID)
	}

	var ci struct {
		CheckedIn []string `json:"checked_in"`
	}
	p.call("checkin", map[string]any{"hosts": []string{ssh.Hosts[0].ID, box.Hosts[0].ID}}, &ci)
	p.close()
	if n := len(dockerList(t, env, "ps", "-aq")); n != 0 {
		t.Errorf("%d containers left after checkin", n)
	}
	if got := inventory(t, dir); len(got) != 0 {
		t.Errorf("%d records left after checkin", len(got))
	}
}

// TestRPCMasksSecrets: an operation failing against a provider whose
// settings hold a token and a password in its URL answers an error that
// carries neither, and the log has neither.
func TestRPCMasksSecrets(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".broker"), 0o755); err != nil {
		t.Fatal(err)
	}
	port := closedPort(t)
	writeFile(t, filepath.Join(dir, ".broker", "broker.hcl"), `
provider "awx" "lab" {
  url   = "http://admin:Sup3rS3cretPass@127.0.0.1:`+strconv.Itoa(port)+`/api/v2/"
  token = "T0kenValue1234567"
}
`)
	p := startRPC(t, dir)
	r := p.fail("checkout", map[string]any{"provider": "awx.lab", "args": map[string]any{"workflow": "deploy", "password": "Sup3rS3cretPass"}})
	if r.Error.Message == "" {
		t.Fatalf("no message: %+v", r.Error)
	}
	p.close()
	logs, _ := os.ReadFile(filepath.Join(dir, ".broker", "logs", "broker.log"))
	for _, secret := range []string{"Sup3rS3cretPass", "T0kenValue1234567"} {
		if strings.Contains(r.Error.Message+r.Error.Data.Hint, secret) || strings.Contains(string(logs), secret) {
			t.Errorf("%q in the error or the log:\n%s\n%s", secret, r.Error.Message, logs)
		}
	}
	t.Logf("error: %s", r.Error.Message)
}
