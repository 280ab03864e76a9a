package main

import (
	"fmt"
	"go/types"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
)

// apiFile is where the exported API of the released module in dir is
// recorded.
func apiFile(root, dir string) string {
	name := "accesstoken"
	if dir != "." {
		name = strings.ReplaceAll(dir, "/", "-")
	}
	return filepath.Join(root, "api", name+".txt")
}

// moduleAPI describes the exported API of every importable package of the
// module in dir: one line per exported constant, variable, function, type,
// struct field, interface method and method, sorted, so that a change to
// any of them changes the text. Parameter names and doc comments are left
// out: changing them breaks nobody.
func moduleAPI(root, dir string) (string, error) {
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedTypes | packages.NeedFiles,
		Dir:  filepath.Join(root, dir),
	}
	pkgs, err := packages.Load(cfg, "./...")
	if err != nil {
		return "", err
	}
	var lines []string
	for _, p := range pkgs {
		if len(p.Errors) > 0 {
			return "", fmt.Errorf("%s: %v", p.PkgPath, p.Errors[0])
		}
		if p.Name == "main" || strings.Contains(p.PkgPath+"/", "/internal/") {
			continue
		}
		for _, l := range packageAPI(p.Types) {
			lines = append(lines, "pkg "+p.PkgPath+", "+l)
		}
	}
	sort.Strings(lines)
	if len(lines) == 0 {
		return "", nil
	}
	return strings.Join(lines, "\n") + "\n", nil
}

func packageAPI(pkg *types.Package) []string {
	qual := func(p *types.Package) string {
		if p == pkg {
			return ""
		}
		return p.Path()
	}
	// typ writes a type as go/types does, but function types without
	// parameter names, at any depth a declaration shows.
	var typ func(t types.Type) string
	var sig func(s *types.Signature) string
	typ = func(t types.Type) string {
		switch t := t.(type) {
		case *types.Signature:
			return "func" + sig(t)
		case *types.Pointer:
			return "*" + typ(t.Elem())
		case *types.Slice:
			return "[]" + typ(t.Elem())
		case *types.Array:
			return fmt.Sprintf("[%d]%s", t.Len(), typ(t.Elem()))
		case *types.Map:
			return "map[" + typ(t.Key()) + "]" + typ(t.Elem())
		}
		return types.TypeString(t, qual)
	}
	sig = func(s *types.Signature) string {
		var b strings.Builder
		b.WriteString("(")
		for i := 0; i < s.Params().Len(); i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			t := s.Params().At(i).Type()
			if s.Variadic() && i == s.Params().Len()-1 {
				b.WriteString("..." + typ(t.(*types.Slice).Elem()))
			} else {
				b.WriteString(typ(t))
			}
		}
		b.WriteString(")")
		switch n := s.Results().Len(); {
		case n == 1:
			b.WriteString(" " + typ(s.Results().At(0).Type()))
		case n > 1:
			var rs []string
			for i := 0; i < n; i++ {
				rs = append(rs, typ(s.Results().At(i).Type()))
			}
			b.WriteString(" (" + strings.Join(rs, ", ") + ")")
		}
		return b.String()
	}
	tparams := func(l *types.TypeParamList) string {
		if l == nil || l.Len() == 0 {
			return ""
		}
		var ps []string
		for i := 0; i < l.Len(); i++ {
			ps = append(ps, l.At(i).Obj().Name()+" "+typ(l.At(i).Constraint()))
		}
		return "[" + strings.Join(ps, ", ") + "]"
	}

	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		switch o := obj.(type) {
		case *types.Const:
			add("const %s %s = %s", name, typ(o.Type()), o.Val().ExactString())
		case *types.Var:
			add("var %s %s", name, typ(o.Type()))
		case *types.Func:
			s := o.Type().(*types.Signature)
			add("func %s%s%s", name, tparams(s.TypeParams()), sig(s))
		case *types.TypeName:
			if o.IsAlias() {
				add("type %s = %s", name, typ(types.Unalias(o.Type())))
				continue
			}
			named, ok := o.Type().(*types.Named)
			if !ok {
				continue
			}
			head := name + tparams(named.TypeParams())
			switch u := named.Underlying().(type) {
			case *types.Struct:
				add("type %s struct", head)
				for i := 0; i < u.NumFields(); i++ {
					f := u.Field(i)
					switch {
					case f.Embedded() && f.Exported():
						add("type %s struct, embedded %s", name, typ(f.Type()))
					case f.Exported():
						add("type %s struct, %s %s", name, f.Name(), typ(f.Type()))
					}
				}
			case *types.Interface:
				add("type %s interface", head)
				unexported := false
				for i := 0; i < u.NumMethods(); i++ {
					m := u.Method(i)
					if !m.Exported() {
						unexported = true
						continue
					}
					add("type %s interface, %s%s", name, m.Name(), sig(m.Type().(*types.Signature)))
				}
				if unexported {
					add("type %s interface, unexported methods", name)
				}
				for i := 0; i < u.NumEmbeddeds(); i++ {
					if _, isNamed := u.EmbeddedType(i).(*types.Named); !isNamed {
						add("type %s interface, constraint %s", name, typ(u.EmbeddedType(i)))
					}
				}
			default:
				add("type %s %s", head, typ(u))
			}
			for i := 0; i < named.NumMethods(); i++ {
				m := named.Method(i)
				if !m.Exported() {
					continue
				}
				s := m.Type().(*types.Signature)
				recv := name
				if _, ptr := s.Recv().Type().(*types.Pointer); ptr {
					recv = "*" + name
				}
				add("method (%s) %s%s", recv, m.Name(), sig(s))
			}
		}
	}
	return out
}

// api writes (or, with check, compares) the record of every released
// module's exported API under api/. It returns the modules whose API
// differs from the record.
func api(root string, s *set, check bool) ([]string, error) {
	var changed []string
	want := map[string]bool{}
	for _, d := range s.released {
		text, err := moduleAPI(root, d)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", d, err)
		}
		p := apiFile(root, d)
		if text == "" {
			continue // a command: its interface is its flags, tested as such
		}
		want[p] = true
		old, _ := os.ReadFile(p)
		if string(old) == text {
			continue
		}
		changed = append(changed, d)
		if check {
			fmt.Fprintf(os.Stderr, "%s: the exported API of %s differs from the record:\n%s", p, modulePath(d), lineDiff(string(old), text))
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return nil, err
		}
	}
	recorded, _ := filepath.Glob(filepath.Join(root, "api", "*.txt"))
	for _, p := range recorded {
		if !want[p] {
			changed = append(changed, p)
			if check {
				fmt.Fprintf(os.Stderr, "%s records no released module\n", p)
			} else if err := os.Remove(p); err != nil {
				return nil, err
			}
		}
	}
	return changed, nil
}

// lineDiff lists the lines only in a ("-") and only in b ("+").
func lineDiff(a, b string) string {
	in := func(text string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(text, "\n") {
			if l != "" {
				m[l] = true
			}
		}
		return m
	}
	am, bm := in(a), in(b)
	var out []string
	for l := range am {
		if !bm[l] {
			out = append(out, "- "+l)
		}
	}
	for l := range bm {
		if !am[l] {
			out = append(out, "+ "+l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][2:] < out[j][2:] })
	return strings.Join(out, "\n") + "\n"
}
