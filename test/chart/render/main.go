// render: `helm template` for one chart without helm, from Debian's packages
// only (golang-go, golang-github-masterminds-sprig-dev,
// golang-k8s-sigs-yaml-dev), built by test/chart/check.py in GOPATH mode.
//
// It follows Helm 3's engine (pkg/engine) where the chart can tell the
// difference: Go's text/template with missingkey=zero and "<no value>"
// erased; sprig's text functions without env/expandenv; Helm's include,
// tpl, required, fail, toYaml (sigs.k8s.io/yaml, trailing newline trimmed),
// fromYaml, toJson, fromJson, lookup (empty: no cluster); every file of
// templates/ parsed into one set, files whose name starts with "_" not
// rendered; values read the way Helm reads them (sigs.k8s.io/yaml, so every
// number is a float64), the -f files coalesced over values.yaml (maps merged,
// null deletes a key); .Release, .Chart (Chart.yaml), .Capabilities,
// .Template. Not implemented: .Files, subcharts, schema validation.
//
// Usage: render -chart DIR [-name RELEASE] [-namespace NS] [-f VALUES]...
// Prints one JSON object {"<chart>/templates/<file>": "<rendered text>"} on
// stdout; a template error goes to stderr with exit status 1.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"sigs.k8s.io/yaml"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// Capabilities as Helm exposes them (the parts a chart may ask about).
type KubeVersion struct{ Version, Major, Minor string }

func (k KubeVersion) String() string { return k.Version }

type VersionSet []string

func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
	HelmVersion map[string]string
}

func readYAML(file string) (map[string]interface{}, error) {
	data, err := ioutil.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	if m == nil {
		m = map[string]interface{}{}
	}
	return m, nil
}

// coalesce merges src (user values) over dst (defaults), as Helm's
// chartutil.CoalesceTables: maps merge, a null removes the key.
func coalesce(dst, src map[string]interface{}) map[string]interface{} {
	for k, sv := range src {
		if sv == nil {
			delete(dst, k)
			continue
		}
		dm, dIsMap := dst[k].(map[string]interface{})
		sm, sIsMap := sv.(map[string]interface{})
		if dIsMap && sIsMap {
			dst[k] = coalesce(dm, sm)
		} else {
			dst[k] = sv
		}
	}
	return dst
}

func funcMap(t *template.Template) template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	f["toYaml"] = func(v interface{}) string {
		data, err := yaml.Marshal(v)
		if err != nil {
			return ""
		}
		return strings.TrimSuffix(string(data), "\n")
	}
	f["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["toJson"] = func(v interface{}) string {
		data, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(data)
	}
	f["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	depth := map[string]int{}
	f["include"] = func(name string, data interface{}) (string, error) {
		if depth[name] > 1000 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		depth[name]++
		defer func() { depth[name]-- }()
		var b strings.Builder
		err := t.ExecuteTemplate(&b, name, data)
		return b.String(), err
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		c, err := t.Clone()
		if err != nil {
			return "", err
		}
		c, err = c.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var b strings.Builder
		if err := c.Execute(&b, data); err != nil {
			return "", err
		}
		return strings.ReplaceAll(b.String(), "<no value>", ""), nil
	}
	f["required"] = func(warn string, val interface{}) (interface{}, error) {
		if val == nil {
			return val, fmt.Errorf("%s", warn)
		}
		if s, ok := val.(string); ok && s == "" {
			return val, fmt.Errorf("%s", warn)
		}
		return val, nil
	}
	f["fail"] = func(msg string) (string, error) { return "", fmt.Errorf("%s", msg) }
	f["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	return f
}

func main() {
	chartDir := flag.String("chart", "", "the chart's directory")
	release := flag.String("name", "saturation-scaler", "release name")
	namespace := flag.String("namespace", "keda", "release namespace")
	kubeVersion := flag.String("kube-version", "v1.30.0", "Capabilities.KubeVersion")
	var valueFiles, apiVersions multiFlag
	flag.Var(&valueFiles, "f", "a values file coalesced over values.yaml (repeatable)")
	flag.Var(&apiVersions, "api-versions", "an API version Capabilities.APIVersions has (repeatable)")
	flag.Parse()
	if *chartDir == "" {
		fmt.Fprintln(os.Stderr, "render: -chart DIR is required")
		os.Exit(2)
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}

	meta, err := readYAML(filepath.Join(*chartDir, "Chart.yaml"))
	if err != nil {
		fail(err)
	}
	// Helm's chart.Metadata, with its Go field names.
	chart := map[string]interface{}{}
	for _, k := range []string{"name", "home", "sources", "version", "description", "keywords",
		"maintainers", "icon", "apiVersion", "condition", "tags", "appVersion", "deprecated",
		"annotations", "kubeVersion", "dependencies", "type"} {
		key := strings.ToUpper(k[:1]) + k[1:]
		if k == "apiVersion" {
			key = "APIVersion"
		}
		if v, ok := meta[k]; ok {
			chart[key] = v
		} else {
			chart[key] = ""
		}
	}
	name, _ := chart["Name"].(string)

	values, err := readYAML(filepath.Join(*chartDir, "values.yaml"))
	if err != nil {
		fail(err)
	}
	for _, f := range valueFiles {
		user, err := readYAML(f)
		if err != nil {
			fail(err)
		}
		values = coalesce(values, user)
	}

	kv := strings.TrimPrefix(*kubeVersion, "v")
	parts := strings.SplitN(kv, ".", 3)
	for len(parts) < 2 {
		parts = append(parts, "0")
	}
	apis := VersionSet{"v1", "apps/v1", "policy/v1", "rbac.authorization.k8s.io/v1"}
	apis = append(apis, apiVersions...)
	top := map[string]interface{}{
		"Values": values,
		"Chart":  chart,
		"Release": map[string]interface{}{
			"Name": *release, "Namespace": *namespace, "Revision": 1, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false,
		},
		"Capabilities": Capabilities{
			KubeVersion: KubeVersion{Version: *kubeVersion, Major: parts[0], Minor: parts[1]},
			APIVersions: apis,
			HelmVersion: map[string]string{"version": "v3.0.0"},
		},
		"Files": map[string]interface{}{},
	}

	tdir := filepath.Join(*chartDir, "templates")
	var files []string
	err = filepath.Walk(tdir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !info.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		fail(err)
	}
	sort.Strings(files)

	t := template.New("gotpl")
	t.Option("missingkey=zero")
	t.Funcs(funcMap(t))
	names := []string{}
	for _, p := range files {
		rel, _ := filepath.Rel(*chartDir, p)
		tname := path.Join(name, filepath.ToSlash(rel))
		text, err := ioutil.ReadFile(p)
		if err != nil {
			fail(err)
		}
		if _, err := t.New(tname).Parse(string(text)); err != nil {
			fail(fmt.Errorf("parse error in %s: %v", tname, err))
		}
		names = append(names, tname)
	}

	out := map[string]string{}
	for _, tname := range names {
		if strings.HasPrefix(path.Base(tname), "_") {
			continue
		}
		top["Template"] = map[string]interface{}{"Name": tname, "BasePath": path.Join(name, "templates")}
		var b strings.Builder
		if err := t.ExecuteTemplate(&b, tname, top); err != nil {
			fail(fmt.Errorf("%s: %v", tname, err))
		}
		out[tname] = strings.ReplaceAll(b.String(), "<no value>", "")
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fail(err)
	}
}
