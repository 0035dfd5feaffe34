package app

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"
)

// brokerKeyFile is broker's own SSH key, made on first need, so that hosts
// broker creates (sshd containers) can let it in without the user setting
// anything up. A key from the ssh settings block takes its place.
func (a *App) brokerKeyFile() string {
	return filepath.Join(a.Dir, "ssh", "id_ed25519")
}

// SSHKeyFile is the private key broker logs in with: the ssh settings'
// private_key_file, or broker's own key (created if missing).
func (a *App) SSHKeyFile() (string, error) {
	if s := a.Settings.SSH; s != nil && s.PrivateKeyFile != "" {
		return expandHome(s.PrivateKeyFile), nil
	}
	path := a.brokerKeyFile()
	// Goroutines making their first provider at once, and processes
	// starting at once, must end up with one key: the first to get the
	// lock writes it, the others find it.
	a.keyMu.Lock()
	defer a.keyMu.Unlock()
	if _, err := os.Stat(path); err == nil {
		return path, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(filepath.Dir(path), ".keygen.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock the ssh key directory: %w", err)
	}
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := writeNewKey(path); err != nil {
		return "", fmt.Errorf("create broker's ssh key: %w", err)
	}
	return path, nil
}

// AuthorizedKey is the public half of SSHKeyFile, in authorized_keys
// format, or "" when it cannot be read (an encrypted key without its
// public file: the user then sets authorized keys themselves).
func (a *App) AuthorizedKey() string {
	path, err := a.SSHKeyFile()
	if err != nil {
		return ""
	}
	if b, err := os.ReadFile(path + ".pub"); err == nil {
		return strings.TrimSpace(string(b))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
}

func writeNewKey(path string) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, "broker")
	if err != nil {
		return err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return err
	}
	// Written to temporary names and renamed, the public half first, so a
	// private key never stands without its public one.
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	if err := os.WriteFile(tmp, pem.EncodeToMemory(block), 0o600); err != nil {
		return err
	}
	pubLine := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " broker\n"
	if err := os.WriteFile(tmp+".pub", []byte(pubLine), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp+".pub", path+".pub"); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
