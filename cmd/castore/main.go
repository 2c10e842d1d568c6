package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	// run parses args itself (so each command owns its flags and --help)
	// and returns a usageError for bad usage.
	run func(ctx context.Context, env *environment, args []string) error
}

// environment is what commands touch outside themselves, so tests can run
// them in process.
type environment struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// onListen, if set, is told the address a server listens on.
	onListen func(net.Addr)
	// onMount, if set, is told where a mount is ready.
	onMount func(mountpoint string)
}

// usageError is a mistake in how the command was called: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func commands() []command {
	return []command{
		{"serve", "serve the castore gRPC API over local or cloud stores", runServe},
		{"import", "put a directory, file or tar archive in; print its root digest", runImport},
		{"export", "write a tree out into a directory or as a tar stream", runExport},
		{"ls", "list a directory of a stored tree", runLs},
		{"cat", "write a stored file or blob to stdout", runCat},
		{"stat", "describe a stored directory or blob", runStat},
		{"copy", "copy a tree and its blobs to other stores", runCopy},
		{"verify", "read a whole store and check every chunk, index and directory", runVerify},
		{"gc", "delete what no unexpired tag reaches, safely while writers write", runGC},
		{"mount", "mount a stored tree read-only through FUSE", runMount},
		{"http", "serve stored trees to web browsers and HTTP clients", runHTTP},
		{"tag", "name roots: tag set, get, ls, rm (tags keep trees from garbage collection)", runTag},
		{"share", "print a link to a stored tree or file that expires, for the HTTP gateway", runShare},
		{"version", "print the version and source revision castore was built from", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &environment{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	stopProfile := startProfile(os.Getenv("CASTORE_CPUPROFILE"))
	code := run(ctx, env, os.Args[1:])
	stopProfile()
	os.Exit(code)
}

// startProfile writes a CPU profile of the command to path, if set (for
// engineers: go tool pprof castore PATH).
func startProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "castore: CASTORE_CPUPROFILE: %v\n", err)
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// run executes one command line and returns its exit code.
func run(ctx context.Context, env *environment, args []string) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(env.stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range cmds {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, env, args[1:])
		var ue *usageError
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ue):
			fmt.Fprintf(env.stderr, "castore %s: %v\nRun 'castore %s --help' for usage.\n", c.name, err, c.name)
			return 2
		default:
			fmt.Fprintf(env.stderr, "castore %s: %v\n", c.name, oneLine(err))
			return 1
		}
	}
	fmt.Fprintf(env.stderr, "castore: unknown command %q\n\n", args[0])
	printUsage(env.stderr, cmds)
	return 2
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

func printUsage(w io.Writer, cmds []command) {
	fmt.Fprintln(w, "castore: a content-addressed store for build outputs (tvix.castore.v1 compatible)")
	fmt.Fprintln(w, "\nUsage: castore COMMAND [flags] [args]\n\nCommands:")
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'castore COMMAND --help' for a command's flags. Every flag can also be set")
	fmt.Fprintln(w, "through an environment variable: --data-dir is CASTORE_DATA_DIR, and so on.")
}

// newFlagSet returns a flag set whose errors are returned, not printed and
// exited on, with a usage text that lists the flags and their variables.
func newFlagSet(env *environment, name, argsUsage, about string) *flag.FlagSet {
	fs := flag.NewFlagSet("castore "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "Usage: castore %s [flags] %s\n\n%s\n\nFlags (each also from the environment variable shown):\n", name, argsUsage, about)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" && f.DefValue != "false" {
				def = fmt.Sprintf(" (default %q)", f.DefValue)
			}
			fmt.Fprintf(env.stderr, "  --%s  [%s]\n      %s%s\n", f.Name, envName(f.Name), f.Usage, def)
		})
	}
	return fs
}

// envName is the environment variable of a flag: --data-dir is
// CASTORE_DATA_DIR.
func envName(flagName string) string {
	return "CASTORE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags parses args, then fills every flag not given on the command
// line from its environment variable. A bad value, from either, is a usage
// error naming where it came from.
func parseFlags(fs *flag.FlagSet, env *environment, args []string) error {
	// Flags may come after positional arguments (castore copy ROOT --to-…);
	// "--" ends the flags.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return &usageError{err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	fs.Parse(append([]string{"--"}, positional...)) // leaves fs.Args() = positional
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		if v := env.getenv(envName(f.Name)); v != "" {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = usagef("%s=%q: %v", envName(f.Name), v, serr)
			}
		}
	})
	return err
}
