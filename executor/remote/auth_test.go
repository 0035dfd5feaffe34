package remote

import (
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labbroker/broker/test/sshdtest"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func TestEncryptedKeyFile(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	// Re-encrypt the server's authorised key with a passphrase.
	data, err := os.ReadFile(srv.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ssh.ParseRawPrivateKey(data)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKeyWithPassphrase(raw, "", []byte("open sesame"))
	if err != nil {
		t.Fatal(err)
	}
	enc := filepath.Join(t.TempDir(), "id_enc")
	if err := os.WriteFile(enc, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}

	cfg := config(srv)
	cfg.Auth = Auth{PrivateKeyFiles: []string{enc}}
	if _, err := DialSSH(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "encrypted") {
		t.Errorf("DialSSH without a passphrase source = %v", err)
	}
	var asked []string
	cfg.Auth.Passphrase = func(file string) ([]byte, error) {
		asked = append(asked, file)
		return []byte("open sesame"), nil
	}
	dial(t, cfg)
	if len(asked) != 1 || asked[0] != enc {
		t.Errorf("Passphrase asked for %v, want [%s]", asked, enc)
	}
	cfg.Auth.Passphrase = func(string) ([]byte, error) { return nil, errors.New("no tty") }
	if _, err := DialSSH(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "no tty") {
		t.Errorf("DialSSH with a failing passphrase source = %v", err)
	}
}

func TestAgentAuth(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	data, err := os.ReadFile(srv.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ssh.ParseRawPrivateKey(data)
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	// A key the server does not know first, then the right one.
	_, stranger, _ := ed25519.GenerateKey(crand.Reader)
	for _, k := range []any{stranger, raw} {
		if err := keyring.Add(agent.AddedKey{PrivateKey: k}); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = agent.ServeAgent(keyring, c)
			}()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
	cfg := config(srv)
	cfg.Auth = Auth{Agent: true}
	s := dial(t, cfg)
	if res, err := s.Run(context.Background(), "echo agent", RunOptions{}); err != nil || res.Stdout != "agent\n" {
		t.Errorf("Run = %+v, %v", res, err)
	}

	t.Setenv("SSH_AUTH_SOCK", "")
	if _, err := DialSSH(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "SSH_AUTH_SOCK") {
		t.Errorf("DialSSH with no agent = %v", err)
	}
}
