package main

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// readDeployFile reads a file of the repository's root, relative to this
// package.
func readDeployFile(tb testing.TB, path string) string {
	tb.Helper()
	b, err := os.ReadFile("../../" + path)
	if err != nil {
		tb.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}

// envExample returns the variables of deploy/env.example in order.
func envExample(tb testing.TB) ([]string, map[string]string) {
	tb.Helper()
	var names []string
	values := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(readDeployFile(tb, "deploy/env.example")))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			tb.Fatalf("env.example: %q is not NAME=value", line)
		}
		names = append(names, name)
		values[name] = value
	}
	return names, values
}

// TestEnvExampleMatchesConfig checks that deploy/env.example names every
// variable the configuration reads, names none it does not, and that its
// placeholders pass the configuration's checks.
func TestEnvExampleMatchesConfig(t *testing.T) {
	names, values := envExample(t)
	var read []string
	_, err := loadConfig(func(k string) string {
		read = append(read, k)
		return values[k]
	})
	if err != nil {
		t.Errorf("loadConfig with env.example: %v", err)
	}
	// The terminal's locale is the terminal's, not the service's.
	notDeployed := []string{"LANG", "LC_ALL"}
	// Compose builds DATABASE_URL from it.
	composeOnly := []string{"POSTGRES_PASSWORD"}
	for _, k := range read {
		if !slices.Contains(names, k) && !slices.Contains(notDeployed, k) {
			t.Errorf("env.example lacks %s, which the configuration reads", k)
		}
	}
	for _, k := range names {
		if !slices.Contains(read, k) && !slices.Contains(composeOnly, k) {
			t.Errorf("env.example sets %s, which the configuration does not read", k)
		}
	}
	compose := readDeployFile(t, "docker-compose.yml")
	for _, k := range composeOnly {
		if !strings.Contains(compose, "${"+k) {
			t.Errorf("docker-compose.yml does not use %s", k)
		}
	}
}

// TestContainerAndUnitRunKnownCommands checks that the Dockerfile builds
// with the command line the README gives, and that the commands the
// Dockerfile, the compose file and the systemd unit run are commands of the
// binary.
func TestContainerAndUnitRunKnownCommands(t *testing.T) {
	const build = "CGO_ENABLED=0 go build -trimpath -ldflags='-s -w'"
	dockerfile := readDeployFile(t, "Dockerfile")
	readme := readDeployFile(t, "README.md")
	for what, text := range map[string]string{"Dockerfile": dockerfile, "README.md": readme} {
		if !strings.Contains(text, build+" ") {
			t.Errorf("%s does not build with %q", what, build)
		}
	}
	for _, want := range []string{`ENTRYPOINT ["/usr/local/bin/migrantbot"]`, `CMD ["serve"]`, "USER nonroot", "EXPOSE 8080 8443"} {
		if !strings.Contains(dockerfile, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	known := func(cmd string) bool { return regexp.MustCompile(`(?m)^  ` + cmd + ` `).MatchString(usage) }
	var commands []string
	for _, m := range regexp.MustCompile(`command: \["([a-z-]+)"\]`).FindAllStringSubmatch(readDeployFile(t, "docker-compose.yml"), -1) {
		commands = append(commands, m[1])
	}
	for _, m := range regexp.MustCompile(`(?m)^Exec\w+=/usr/local/bin/migrantbot ([a-z-]+)$`).FindAllStringSubmatch(readDeployFile(t, "deploy/migrantbot.service"), -1) {
		commands = append(commands, m[1])
	}
	slices.Sort(commands)
	if got, want := slices.Compact(commands), []string{"migrate", "serve"}; !slices.Equal(got, want) {
		t.Errorf("compose and systemd run %v, want %v", got, want)
	}
	for _, c := range commands {
		if !known(c) {
			t.Errorf("%q is not a command of migrantbot", c)
		}
	}
}
