package docker

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/labbroker/broker/providers"
)

// Checkout creates and starts one container, waits until it is ready and
// reports it. With req.Resume it adopts the container an interrupted
// checkout made (found by its broker.intent label) when that one runs, and
// replaces it when it does not. Whatever fails, nothing it made is left.
func (p *Provider) Checkout(ctx context.Context, req providers.CheckoutRequest) (providers.CheckoutResponse, error) {
	a, err := decodeArgs(req.Args)
	if err != nil {
		return providers.CheckoutResponse{}, err
	}
	if a.Image == "" {
		return providers.CheckoutResponse{}, errors.New("argument image is required")
	}
	if err := p.ping(ctx); err != nil {
		return providers.CheckoutResponse{}, err
	}
	progress := req.Progress
	if progress == nil {
		progress = func(string) {}
	}
	if req.Resume != nil {
		h, ok, err := p.resume(ctx, req, a, progress)
		if err != nil {
			return providers.CheckoutResponse{}, err
		}
		if ok {
			return providers.CheckoutResponse{Hosts: []providers.HostInfo{h}, Adopted: true}, nil
		}
	}
	pull := a.Pull
	if pull == "" {
		pull = p.set.Pull
	}
	if err := p.ensureImage(ctx, a.Image, pull, progress); err != nil {
		return providers.CheckoutResponse{}, err
	}
	netName := a.Network
	if netName == "" {
		netName = p.set.Network
	}
	name := p.containerName(req)
	if a.Name != "" {
		name = a.Name
	}
	if a.NetworkMode != "" && netName != "" && a.Network != "" {
		return providers.CheckoutResponse{}, fmt.Errorf("arguments network and network_mode: give one")
	}
	if a.NetworkMode != "" {
		netName = "" // the mode says; nothing to create
	}
	id, err := p.start(ctx, req, a, name, netName, progress)
	if err == nil {
		err = p.waitReady(ctx, id, p.set.Timeout)
	}
	var h providers.HostInfo
	if err == nil {
		h, err = p.describe(ctx, id)
	}
	if err != nil {
		// Nothing half made stays: the container, and a network made for
		// it alone.
		cctx := context.WithoutCancel(ctx)
		if id != "" {
			if rerr := p.remove(cctx, id); rerr != nil && !cerrdefs.IsNotFound(rerr) {
				p.logger.Warn("remove failed container", "container", name, "err", rerr)
			}
		}
		if netName != "" {
			p.removeNetworkIfUnused(cctx, netName)
		}
		return providers.CheckoutResponse{}, err
	}
	return providers.CheckoutResponse{Hosts: []providers.HostInfo{h}}, nil
}

// resume looks for the container of an interrupted checkout. ok reports
// that it was adopted; a broken one is removed and ok is false.
func (p *Provider) resume(ctx context.Context, req providers.CheckoutRequest, a args, progress func(string)) (providers.HostInfo, bool, error) {
	f := client.Filters{}.Add("label", providers.LabelIntent+"="+req.Resume.IntentID)
	list, err := p.api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return providers.HostInfo{}, false, p.engineErr(fmt.Errorf("look for the containers of intent %s: %w", req.Resume.IntentID, err))
	}
	ids := make([]string, 0, len(list.Items)+1)
	for _, c := range list.Items {
		ids = append(ids, c.ID)
	}
	if id := req.Resume.ProviderID; id != "" && !slices.ContainsFunc(ids, func(s string) bool { return strings.HasPrefix(s, id) }) {
		if _, err := p.api.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err == nil {
			ids = append(ids, id)
		}
	}
	var adopted *providers.HostInfo
	for _, id := range ids {
		if adopted == nil {
			in, err := p.api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
			if err == nil && in.Container.State != nil && in.Container.State.Running {
				if err := p.waitReady(ctx, id, p.set.Timeout); err == nil {
					h, err := p.describe(ctx, id)
					if err == nil {
						progress(fmt.Sprintf("adopted container %s of the interrupted checkout", h.Name))
						adopted = &h
						continue
					}
				}
			}
		}
		progress(fmt.Sprintf("removing container %s left broken by an interrupted checkout", shortID(id)))
		if err := p.remove(context.WithoutCancel(ctx), id); err != nil && !cerrdefs.IsNotFound(err) {
			return providers.HostInfo{}, false, err
		}
	}
	if adopted == nil {
		return providers.HostInfo{}, false, nil
	}
	return *adopted, true, nil
}

// ensureImage makes sure image is on the engine, pulling it (with
// progress) when policy allows.
func (p *Provider) ensureImage(ctx context.Context, image, policy string, progress func(string)) error {
	if policy != pullAlways {
		_, err := p.api.ImageInspect(ctx, image)
		if err == nil {
			return nil
		}
		if !cerrdefs.IsNotFound(err) {
			return p.engineErr(fmt.Errorf("inspect image %s: %w", image, err))
		}
		if policy == pullNever {
			return &ImageError{Image: image}
		}
	}
	progress(fmt.Sprintf("pulling image %s", image))
	if err := p.pull(ctx, image, progress); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if policy == pullAlways {
			if _, ierr := p.api.ImageInspect(ctx, image); ierr == nil {
				progress(fmt.Sprintf("pull of %s failed, using the local image: %v", image, err))
				return nil
			}
		}
		return &ImageError{Image: image, Err: err}
	}
	return nil
}

func (p *Provider) pull(ctx context.Context, image string, progress func(string)) error {
	resp, err := p.api.ImagePull(ctx, image, client.ImagePullOptions{})
	if err != nil {
		return err
	}
	defer resp.Close()
	last := ""
	for m, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return err
		}
		if m.Error != nil {
			return errors.New(m.Error.Message)
		}
		line := m.Status
		if m.ID != "" {
			line = m.ID + ": " + line
		}
		if m.Progress != nil && m.Progress.Total > 0 {
			line += fmt.Sprintf(" %d%%", m.Progress.Current*100/m.Progress.Total)
		}
		if line != "" && line != last {
			progress("pull " + image + ": " + line)
			last = line
		}
	}
	return nil
}

// ensureNetwork creates the named network when it does not exist,
// labelled as managed so that it goes with its last container.
func (p *Provider) ensureNetwork(ctx context.Context, name string, labels map[string]string, progress func(string)) error {
	p.netCreate.Lock()
	defer p.netCreate.Unlock()
	_, err := p.api.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
	if err == nil {
		return nil
	}
	if !cerrdefs.IsNotFound(err) {
		return p.engineErr(fmt.Errorf("inspect network %s: %w", name, err))
	}
	nl := map[string]string{LabelProvider: "docker", LabelInstance: p.instance, LabelNetworkManaged: "true"}
	for k, v := range labels {
		// The user's labels and broker's environment and user, not the
		// host's own id: the network outlives single hosts.
		switch k {
		case providers.LabelID, providers.LabelAddress, providers.LabelIntent, providers.LabelExpires:
		default:
			nl[k] = v
		}
	}
	progress(fmt.Sprintf("creating network %s", name))
	if _, err := p.api.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "bridge", Labels: nl}); err != nil {
		return p.engineErr(fmt.Errorf("create network %s: %w", name, err))
	}
	return nil
}

// removeNetworkIfUnused removes a network the provider created once no
// container is attached to it.
func (p *Provider) removeNetworkIfUnused(ctx context.Context, name string) {
	p.netMu.Lock()
	defer p.netMu.Unlock()
	n, err := p.api.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
	if err != nil || n.Network.Labels[LabelNetworkManaged] != "true" {
		return
	}
	// Containers of other engines' users (or stopped ones) still count.
	f := client.Filters{}.Add("network", n.Network.ID)
	list, err := p.api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil || len(list.Items) > 0 || len(n.Network.Containers) > 0 {
		return
	}
	if _, err := p.api.NetworkRemove(ctx, n.Network.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
		p.logger.Warn("remove network", "network", name, "err", err)
	}
}

func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// stateSuffixLen is how much of the state's identity a container name
// carries: enough that two broker directories on one engine do not clash
// (32^6 ≈ 10^9), short enough to read.
const stateSuffixLen = 6

// containerName is <name_prefix>-<req.Name or a random suffix>-<the first
// characters of the state's identity (label broker.state)>, such as
// broker-lab-web-0-k3x9q2: two states applying the same manifest on one
// engine make different names.
func (p *Provider) containerName(req providers.CheckoutRequest) string {
	n := sanitizeName(req.Name)
	if n == "" {
		n = randomSuffix()
	}
	if st := sanitizeName(req.Labels[providers.LabelState]); st != "" {
		n += "-" + st[:min(len(st), stateSuffixLen)]
	}
	return p.set.NamePrefix + "-" + n
}

// start creates and starts the container; the id it returns, even with an
// error, is a container the caller must remove.
func (p *Provider) start(ctx context.Context, req providers.CheckoutRequest, a args, name, netName string, progress func(string)) (string, error) {
	cfg, hc, nc, err := p.containerConfig(req, a, name, netName)
	if err != nil {
		return "", err
	}
	if netName != "" {
		// Until the container runs on it, the network must not be removed
		// by a check-in of its last other host.
		p.netMu.RLock()
		defer p.netMu.RUnlock()
		if err := p.ensureNetwork(ctx, netName, req.Labels, progress); err != nil {
			return "", err
		}
	}
	created, err := p.api.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, Config: cfg, HostConfig: hc, NetworkingConfig: nc})
	if err != nil {
		// Podman's compatible API (4.x) answers a taken name with a 500,
		// not Docker's 409: its message says it.
		if cerrdefs.IsConflict(err) || strings.Contains(err.Error(), "name \""+name+"\" is already in use") {
			return "", &NameError{Name: name, Err: err}
		}
		if cerrdefs.IsNotFound(err) && strings.Contains(err.Error(), "image") {
			return "", &ImageError{Image: a.Image, Err: err}
		}
		return "", p.engineErr(fmt.Errorf("create container %s: %w", name, err))
	}
	id := created.ID
	progress(fmt.Sprintf("created container %s (%s)", name, shortID(id)))
	if req.Checkpoint != nil {
		if err := req.Checkpoint(ctx, providers.Checkpoint{ProviderID: id, Data: map[string]string{"container": name}}); err != nil {
			return id, fmt.Errorf("record container %s: %w", name, err)
		}
	}
	if _, err := p.api.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		if port, isPort := portInUse(err, hc); isPort {
			return id, &PortError{Port: port, Err: err}
		}
		return id, p.engineErr(fmt.Errorf("start container %s: %w", name, err))
	}
	progress(fmt.Sprintf("started container %s", name))
	return id, nil
}

// portInUse tells whether a start error is a host port clash, and which.
func portInUse(err error, hc *container.HostConfig) (string, bool) {
	msg := err.Error()
	if !strings.Contains(msg, "port is already allocated") && !strings.Contains(msg, "address already in use") {
		return "", false
	}
	for _, bs := range hc.PortBindings {
		for _, b := range bs {
			if b.HostPort != "" && strings.Contains(msg, ":"+b.HostPort) {
				return b.HostPort, true
			}
		}
	}
	return "?", true
}

func (p *Provider) containerConfig(req providers.CheckoutRequest, a args, name, netName string) (*container.Config, *container.HostConfig, *network.NetworkingConfig, error) {
	own := map[string]string{LabelProvider: "docker", LabelInstance: p.instance}
	maps.Copy(own, req.Labels)
	if _, ok := own[providers.LabelUser]; !ok && p.user != "" {
		own[providers.LabelUser] = p.user
	}
	labels := containerLabels(own, a)
	env := maps.Clone(a.Env)
	keys := strings.TrimSpace(a.AuthorizedKeys)
	if keys == "" {
		keys = strings.TrimSpace(p.set.AuthorizedKeys)
	}
	if keys != "" {
		if env == nil {
			env = map[string]string{}
		}
		if _, set := env[authorizedKeysEnv]; !set {
			env[authorizedKeysEnv] = keys
		}
	}
	var envList []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		envList = append(envList, k+"="+env[k])
	}
	hostname := a.Hostname
	if hostname == "" {
		hostname = containerHostname(name)
	}
	cfg := &container.Config{
		Image:      a.Image,
		Hostname:   hostname,
		Env:        envList,
		Labels:     labels,
		User:       a.User,
		WorkingDir: a.WorkDir,
	}
	if len(a.Command) > 0 {
		cfg.Cmd = a.Command
	}
	if len(a.Entrypoint) > 0 {
		cfg.Entrypoint = a.Entrypoint
	}
	autoMap := p.set.AutoMapPorts
	if a.AutoMapPorts != nil {
		autoMap = *a.AutoMapPorts
	}
	hc := &container.HostConfig{
		Privileged:      a.Privileged,
		PublishAllPorts: autoMap,
	}
	if len(a.Ports) > 0 {
		exposed, bindings, err := parsePorts(a.Ports, p.set.PublishAddress)
		if err != nil {
			return nil, nil, nil, err
		}
		cfg.ExposedPorts = exposed
		hc.PortBindings = bindings
	}
	for _, v := range a.Volumes {
		parts := strings.Split(v, ":")
		switch {
		case len(parts) == 1 && strings.HasPrefix(v, "/"):
			if cfg.Volumes == nil {
				cfg.Volumes = map[string]struct{}{}
			}
			cfg.Volumes[v] = struct{}{}
		case len(parts) == 2 || len(parts) == 3:
			if !strings.HasPrefix(parts[1], "/") {
				return nil, nil, nil, fmt.Errorf("argument volumes: %q: the container path must be absolute", v)
			}
			hc.Binds = append(hc.Binds, v)
		default:
			return nil, nil, nil, fmt.Errorf("argument volumes: %q is not /path, name:/path or /host:/path[:ro]", v)
		}
	}
	if a.Memory != "" {
		m, err := units.RAMInBytes(a.Memory)
		if err != nil || m <= 0 {
			return nil, nil, nil, fmt.Errorf("argument memory: %q is not a size such as 512m", a.Memory)
		}
		hc.Memory = m
	}
	if a.CPUs > 0 {
		hc.NanoCPUs = int64(a.CPUs * 1e9)
	}
	if err := applyEngineOptions(cfg, hc, a); err != nil {
		return nil, nil, nil, err
	}
	var nc *network.NetworkingConfig
	if netName != "" {
		hc.NetworkMode = container.NetworkMode(netName)
		nc = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			netName: {Aliases: []string{hostname}},
		}}
	}
	return cfg, hc, nc, nil
}

// parsePorts reads "22", "22/tcp", "22:2222" (container:host, as the
// Python tool has it), "127.0.0.1:22:2222" (address:container:host).
func parsePorts(specs []string, defaultAddr string) (network.PortSet, network.PortMap, error) {
	exposed := network.PortSet{}
	bindings := network.PortMap{}
	for _, spec := range specs {
		body, proto, _ := strings.Cut(spec, "/")
		if pr, host, ok := strings.Cut(proto, ":"); ok {
			// The Python broker's 22/tcp:1337.
			proto, body = pr, body+":"+host
		}
		if proto == "" {
			proto = "tcp"
		}
		parts := strings.Split(body, ":")
		addr, ctr, host := defaultAddr, "", ""
		switch len(parts) {
		case 1:
			ctr = parts[0]
		case 2:
			ctr, host = parts[0], parts[1]
		case 3:
			addr, ctr, host = parts[0], parts[1], parts[2]
		default:
			return nil, nil, fmt.Errorf("argument ports: %q is not PORT, PORT:HOSTPORT or ADDR:PORT:HOSTPORT", spec)
		}
		port, err := network.ParsePort(ctr + "/" + proto)
		if err != nil {
			return nil, nil, fmt.Errorf("argument ports: %q: %w", spec, err)
		}
		if host != "" {
			if n, err := strconv.Atoi(host); err != nil || n < 1 || n > 65535 {
				return nil, nil, fmt.Errorf("argument ports: %q: host port %q is not a port number", spec, host)
			}
		}
		var ip netip.Addr
		if addr != "" {
			if ip, err = netip.ParseAddr(addr); err != nil {
				return nil, nil, fmt.Errorf("argument ports: %q: %q is not an IP address", spec, addr)
			}
		}
		exposed[port] = struct{}{}
		bindings[port] = append(bindings[port], network.PortBinding{HostIP: ip, HostPort: host})
	}
	return exposed, bindings, nil
}

// waitReady polls the engine until the container runs (and is healthy,
// when it has a health check) and, when port 22 is published, its SSH
// server sends a banner. A container that stops meanwhile is an
// *ExitError with its last log lines.
func (p *Provider) waitReady(ctx context.Context, id string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	delay := 20 * time.Millisecond
	for {
		in, err := p.api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			if ctx.Err() != nil {
				return p.notReady(ctx, id, timeout)
			}
			return p.engineErr(fmt.Errorf("inspect container %s: %w", shortID(id), err))
		}
		c := in.Container
		st := c.State
		name := strings.TrimPrefix(c.Name, "/")
		switch {
		case st == nil:
		case !st.Running && (st.Status == container.StateExited || st.Status == container.StateDead):
			return &ExitError{Name: name, Status: st.ExitCode, Logs: p.lastLogs(context.WithoutCancel(ctx), id, 20)}
		case st.Running && st.Health != nil && st.Health.Status == container.Unhealthy:
			return fmt.Errorf("container %s is unhealthy: %s", name, lastHealth(st.Health))
		case st.Running && (!hasHealthCheck(st.Health) || st.Health.Status == container.Healthy):
			if addr, ok := sshAddr(c, p.pubHost); !ok || sshBanner(ctx, addr) {
				return nil
			}
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return p.notReady(ctx, id, timeout)
		case <-t.C:
		}
		delay = min(delay*2, 500*time.Millisecond)
	}
}

func (p *Provider) notReady(ctx context.Context, id string, timeout time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		logs := p.lastLogs(context.WithoutCancel(ctx), id, 20)
		msg := fmt.Sprintf("container %s not ready after %s", shortID(id), timeout)
		if logs != "" {
			msg += "; its last log lines:\n" + indent(strings.TrimRight(logs, "\n"))
		}
		return fmt.Errorf("%s: %w", msg, ctx.Err())
	}
	return ctx.Err()
}

// hasHealthCheck tells whether an inspected state's health says the
// container has a health check. Docker leaves Health out when it has none;
// Podman's compatible API (4.x) sends {"Status": "", ...} instead, and
// newer engines may say "none".
func hasHealthCheck(h *container.Health) bool {
	return h != nil && h.Status != "" && h.Status != container.NoHealthcheck
}

func lastHealth(h *container.Health) string {
	if len(h.Log) == 0 {
		return "no health check output"
	}
	return strings.TrimSpace(h.Log[len(h.Log)-1].Output)
}

// containerHostname is the hostname of a container named name: the name,
// or, past the 63 characters a hostname may have, its first 54 and a hash
// of the whole, so that long names that share a beginning (a long prefix
// and environment) still give distinct hostnames.
func containerHostname(name string) string {
	if len(name) <= 63 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return strings.TrimRight(name[:54], "-.") + "-" + hex.EncodeToString(sum[:4])
}

// sshAddr is where the container's published port 22 is reached.
func sshAddr(c container.InspectResponse, pubHost string) (string, bool) {
	if c.NetworkSettings == nil {
		return "", false
	}
	for _, b := range c.NetworkSettings.Ports[network.MustParsePort("22/tcp")] {
		if b.HostPort != "" {
			return net.JoinHostPort(pubHost, b.HostPort), true
		}
	}
	return "", false
}

// sshBanner tells whether an SSH server answers at addr. A TCP connect
// alone proves nothing: the engine's port proxy accepts before sshd runs.
func sshBanner(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "SSH-")
}

// lastLogs returns the container's last n log lines, stdout and stderr
// interleaved as far as the engine keeps them.
func (p *Provider) lastLogs(ctx context.Context, id string, n int) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rc, err := p.api.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(n)})
	if err != nil {
		return ""
	}
	defer rc.Close()
	var buf bytes.Buffer
	_, _ = stdcopy.StdCopy(&buf, &buf, rc)
	return buf.String()
}

// describe inspects a container into a HostInfo.
func (p *Provider) describe(ctx context.Context, id string) (providers.HostInfo, error) {
	in, err := p.api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return providers.HostInfo{}, p.engineErr(fmt.Errorf("inspect container %s: %w", shortID(id), err))
	}
	return hostFromInspect(in.Container, p.pubHost), nil
}

func hostFromInspect(c container.InspectResponse, pubHost string) providers.HostInfo {
	h := providers.HostInfo{
		ProviderID: c.ID,
		Name:       strings.TrimPrefix(c.Name, "/"),
		Transport:  providers.TransportDockerExec,
	}
	facts := map[string]any{"container_name": h.Name, "engine_address": pubHost}
	if c.Config != nil {
		h.Hostname = c.Config.Hostname
		h.User = c.Config.User
		h.Labels = maps.Clone(c.Config.Labels)
		facts["image"] = c.Config.Image
		facts["container_hostname"] = c.Config.Hostname
	}
	facts["image_id"] = c.Image
	if t, err := time.Parse(time.RFC3339Nano, c.Created); err == nil {
		h.Created = t
	}
	if c.State != nil {
		facts["state"] = string(c.State.Status)
	}
	if ns := c.NetworkSettings; ns != nil {
		ports := map[string]any{}
		for port, bs := range ns.Ports {
			for _, b := range bs {
				if b.HostPort == "" {
					continue
				}
				if b.HostIP.IsValid() && b.HostIP.Is6() {
					continue // the IPv4 binding says it
				}
				ports[port.String()] = net.JoinHostPort(pubHost, b.HostPort)
			}
		}
		facts["ports"] = ports
		var nets []any
		for _, n := range slices.Sorted(maps.Keys(ns.Networks)) {
			nets = append(nets, n)
			if e := ns.Networks[n]; e != nil && h.IP == "" && e.IPAddress.IsValid() {
				h.IP = e.IPAddress.String()
			}
		}
		facts["networks"] = nets
		if addr, ok := sshAddr(c, pubHost); ok {
			host, port, _ := net.SplitHostPort(addr)
			h.ConnectHost = host // the container keeps its own hostname
			h.Port, _ = strconv.Atoi(port)
			h.Transport = providers.TransportSSH
			h.User = "root"
		}
	}
	h.Facts = facts
	return h
}

// remove force-removes a container with its anonymous volumes. A removal
// already under way (one a killed broker process asked for) is progress,
// not a failure: remove waits for it to end and looks again, so that the
// container is gone when it returns nil or a not-found error.
func (p *Provider) remove(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for round := 0; ; round++ {
		_, err := p.api.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if err == nil || cerrdefs.IsNotFound(err) {
			return err
		}
		// A removal that keeps being "in progress" after it ended is the
		// engine's to sort out: a few rounds, then the error.
		if !removalInProgress(err) || round == 3 {
			return p.engineErr(fmt.Errorf("remove container %s: %w", shortID(id), err))
		}
		p.logger.Info("docker: removal of the container already in progress, waiting for it", "container", shortID(id))
		if err := p.waitRemoved(ctx, id); err != nil {
			return p.engineErr(fmt.Errorf("remove container %s: wait for the removal in progress: %w", shortID(id), err))
		}
	}
}

// removalInProgress tells an engine's refusal to remove a container that
// another request is removing ("removal of container … is already in
// progress", a conflict).
func removalInProgress(err error) bool {
	return cerrdefs.IsConflict(err) && strings.Contains(err.Error(), "already in progress")
}

// waitRemoved waits until the engine has removed container id (or says
// it has no such container), or the removal under way ended without
// removing it; the caller then asks again.
func (p *Provider) waitRemoved(ctx context.Context, id string) error {
	w := p.api.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionRemoved})
	select {
	case <-w.Result:
		return nil
	case err := <-w.Error:
		if err == nil || cerrdefs.IsNotFound(err) {
			return nil
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
