package manifest

import "testing"

// TestPasswordSourceNamesWhereNotWhat: a connection's password source
// names the variable, or the env variable, or says it is a literal, and
// never holds the value.
func TestPasswordSourceNamesWhereNotWhat(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{`var.lab_password`, "var.lab_password"},
		{`"${var.user}-${var.pw}"`, "var.user, var.pw"},
		{`env("AWX_TOKEN")`, `env("AWX_TOKEN")`},
		{`"hunter2"`, "a literal"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			opts := testOptions()
			opts.Vars = map[string]string{"lab_password": "pw-1", "user": "u", "pw": "pw-2"}
			cfg, diags := loadString(t, `
variable "lab_password" {
  type      = string
  sensitive = true
}
variable "user" { type = string }
variable "pw" {
  type      = string
  sensitive = true
}
host "db" {
  provider = "sim"
  connection { password = `+tc.expr+` }
}
`, opts)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			c := cfg.HostBlock("db").Connection
			if got := c.PasswordSource(); got != tc.want {
				t.Errorf("PasswordSource() = %q, want %q", got, tc.want)
			}
			if c.Password == "" {
				t.Errorf("the password was not decoded")
			}
		})
	}
	cfg, diags := loadString(t, "host \"db\" {\n  provider = \"sim\"\n  connection { user = \"qe\" }\n}\n", testOptions())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got := cfg.HostBlock("db").Connection.PasswordSource(); got != "" {
		t.Errorf("no password: PasswordSource() = %q", got)
	}
}
