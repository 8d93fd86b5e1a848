package notifymsg

import (
	"fmt"
	"reflect"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
)

var (
	dataType = reflect.TypeOf(Data{})
	timeType = reflect.TypeOf(time.Time{})
	strType  = reflect.TypeOf("")
	intType  = reflect.TypeOf(0)
	boolType = reflect.TypeOf(true)
)

// checker walks a parse tree knowing the type of "." and of each variable,
// so an unknown field is found before anything is rendered. A nil type is
// "unknown" (the result of and/or/default, …): nothing below it is checked
// (the sample render still runs it).
type checker struct {
	field string
	text  string
	vars  []variable
	lists int // ranges over lists we are inside
}

type variable struct {
	name string
	typ  reflect.Type
}

func checkTree(field, text string, t *template.Template) error {
	if len(t.Templates()) > 1 {
		return fmt.Errorf("%s: {{define}} and {{block}} are not supported; write one template", field)
	}
	c := &checker{field: field, text: text, vars: []variable{{"$", dataType}}}
	if t.Tree == nil || t.Tree.Root == nil {
		return nil
	}
	return c.walk(t.Tree.Root, dataType)
}

func (c *checker) errorf(n parse.Node, format string, args ...any) error {
	return fmt.Errorf("%s: %s at %s", c.field, fmt.Sprintf(format, args...), c.pos(n))
}

// pos is "line:column" of n, both counted from 1. The parser places .A.B
// and $x.A at their second part; this is their start.
func (c *checker) pos(n parse.Node) string {
	p := int(n.Position())
	switch n := n.(type) {
	case *parse.FieldNode:
		if len(n.Ident) > 1 {
			p -= len(n.Ident[0]) + 1
		}
	case *parse.VariableNode:
		if len(n.Ident) > 1 {
			p -= len(n.Ident[0])
		}
	}
	if p < 0 || p > len(c.text) {
		p = int(n.Position())
	}
	text := c.text[:p]
	line := 1 + strings.Count(text, "\n")
	col := len(text) - strings.LastIndex(text, "\n") // LastIndex is -1 on the first line
	return fmt.Sprintf("%d:%d", line, col)
}

func (c *checker) walk(n parse.Node, dot reflect.Type) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, x := range n.Nodes {
			if err := c.walk(x, dot); err != nil {
				return err
			}
		}
	case *parse.ActionNode:
		_, err := c.pipe(n.Pipe, dot)
		return err
	case *parse.IfNode:
		defer c.restore(len(c.vars))
		if _, err := c.pipe(n.Pipe, dot); err != nil {
			return err
		}
		if err := c.walk(n.List, dot); err != nil {
			return err
		}
		return c.walk(n.ElseList, dot)
	case *parse.WithNode:
		defer c.restore(len(c.vars))
		t, err := c.pipe(n.Pipe, dot)
		if err != nil {
			return err
		}
		if err := c.walk(n.List, t); err != nil {
			return err
		}
		return c.walk(n.ElseList, dot)
	case *parse.RangeNode:
		return c.rangeNode(n, dot)
	case *parse.TemplateNode:
		return c.errorf(n, "{{template}} is not supported")
	case *parse.TextNode, *parse.CommentNode, *parse.BreakNode, *parse.ContinueNode:
	default:
		return c.errorf(n, "unexpected %s", n)
	}
	return nil
}

func (c *checker) restore(mark int) { c.vars = c.vars[:mark] }

func (c *checker) rangeNode(n *parse.RangeNode, dot reflect.Type) error {
	defer c.restore(len(c.vars))
	decl := n.Pipe.Decl
	n.Pipe.Decl = nil // the declarations take the key and element, not the list
	t, err := c.pipe(n.Pipe, dot)
	n.Pipe.Decl = decl
	if err != nil {
		return err
	}
	t = indirect(t)
	var key, elem reflect.Type
	switch {
	case t == nil:
		return c.errorf(n, "range over a value of unknown type; range over a list or map such as .Alerts or .CommonLabels")
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		if c.lists > 0 {
			return c.errorf(n, "a range over a list inside a range over a list is not allowed (it grows with the square of the alerts)")
		}
		c.lists++
		defer func() { c.lists-- }()
		key, elem = intType, t.Elem()
	case t.Kind() == reflect.Map:
		key, elem = t.Key(), t.Elem()
	default:
		return c.errorf(n, "range over %s; range over a list or map such as .Alerts or .CommonLabels", t)
	}
	switch len(decl) {
	case 1:
		c.vars = append(c.vars, variable{decl[0].Ident[0], elem})
	case 2:
		c.vars = append(c.vars, variable{decl[0].Ident[0], key}, variable{decl[1].Ident[0], elem})
	}
	if err := c.walk(n.List, elem); err != nil {
		return err
	}
	return c.walk(n.ElseList, dot)
}

// pipe checks a pipeline, declares its variables, and returns its type.
func (c *checker) pipe(p *parse.PipeNode, dot reflect.Type) (reflect.Type, error) {
	if p == nil {
		return nil, nil
	}
	var t reflect.Type
	for i, cmd := range p.Cmds {
		var err error
		t, err = c.command(cmd, dot, t, i > 0)
		if err != nil {
			return nil, err
		}
	}
	for _, v := range p.Decl {
		if p.IsAssign {
			if i := c.lookup(v.Ident[0]); i >= 0 {
				if c.vars[i].typ != t {
					c.vars[i].typ = nil // assigned another type: unknown from here on
				}
				continue
			}
		}
		c.vars = append(c.vars, variable{v.Ident[0], t})
	}
	return t, nil
}

func (c *checker) lookup(name string) int {
	for i := len(c.vars) - 1; i >= 0; i-- {
		if c.vars[i].name == name {
			return i
		}
	}
	return -1
}

// command checks one command of a pipeline; piped is the previous
// command's type when hasPiped.
func (c *checker) command(cmd *parse.CommandNode, dot, piped reflect.Type, hasPiped bool) (reflect.Type, error) {
	var args []reflect.Type
	for _, a := range cmd.Args[1:] {
		t, err := c.arg(a, dot)
		if err != nil {
			return nil, err
		}
		args = append(args, t)
	}
	if hasPiped {
		args = append(args, piped)
	}
	if id, ok := cmd.Args[0].(*parse.IdentifierNode); ok {
		return funcResult(id.Ident, args), nil
	}
	return c.arg(cmd.Args[0], dot)
}

// arg checks one operand and returns its type.
func (c *checker) arg(n parse.Node, dot reflect.Type) (reflect.Type, error) {
	switch n := n.(type) {
	case *parse.DotNode:
		return dot, nil
	case *parse.FieldNode:
		return c.fields(n, dot, "", n.Ident)
	case *parse.VariableNode:
		var t reflect.Type
		if i := c.lookup(n.Ident[0]); i >= 0 {
			t = c.vars[i].typ
		}
		return c.fields(n, t, n.Ident[0], n.Ident[1:])
	case *parse.ChainNode:
		t, err := c.arg(n.Node, dot)
		if err != nil {
			return nil, err
		}
		return c.fields(n, t, "("+n.Node.String()+")", n.Field)
	case *parse.PipeNode:
		return c.pipe(n, dot)
	case *parse.IdentifierNode:
		return funcResult(n.Ident, nil), nil
	case *parse.StringNode:
		return strType, nil
	case *parse.BoolNode:
		return boolType, nil
	case *parse.NumberNode:
		if n.IsInt {
			return intType, nil
		}
		return nil, nil
	}
	return nil, nil
}

// fields follows .A.B.C from t; an unknown name is an error listing the
// variables that exist there.
func (c *checker) fields(n parse.Node, t reflect.Type, prefix string, idents []string) (reflect.Type, error) {
	path := prefix
	for _, name := range idents {
		t = indirect(t)
		if t == nil || t.Kind() == reflect.Interface {
			return nil, nil
		}
		at, atPath := t, path
		path += "." + name
		switch {
		case t.Kind() == reflect.Struct && t != timeType:
			if f, ok := t.FieldByName(name); ok && f.IsExported() {
				t = f.Type
				continue
			}
		case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
			t = t.Elem()
			continue
		}
		if m, ok := reflect.PointerTo(t).MethodByName(name); ok && t == timeType {
			if m.Type.NumOut() == 0 {
				return nil, nil
			}
			t = m.Type.Out(0)
			continue
		}
		return nil, fmt.Errorf("%s; the variables are %s", c.errorf(n, "unknown variable %s", path),
			strings.Join(variables(at, atPath), ", "))
	}
	return t, nil
}

func indirect(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// funcResult is the type a function returns, nil when it depends on the
// values (and, or, default, call).
func funcResult(name string, args []reflect.Type) reflect.Type {
	if f, ok := funcs[name]; ok {
		ft := reflect.TypeOf(f)
		if out := ft.Out(0); out.Kind() != reflect.Interface {
			return out
		}
		return nil
	}
	switch name {
	case "not", "eq", "ne", "lt", "le", "gt", "ge":
		return boolType
	case "len":
		return intType
	case "print", "printf", "println", "html", "js", "urlquery":
		return strType
	case "slice":
		if len(args) > 0 {
			return args[0]
		}
	case "index":
		if len(args) == 0 {
			return nil
		}
		t := indirect(args[0])
		for range args[1:] {
			if t == nil {
				return nil
			}
			switch t.Kind() {
			case reflect.Slice, reflect.Array, reflect.Map:
				t = indirect(t.Elem())
			case reflect.String:
				t = reflect.TypeOf(byte(0))
			default:
				return nil
			}
		}
		return t
	}
	return nil
}

// variables lists what a template can name below t, for error messages:
// .Status, .Policy.Name, …, .Alerts[].Metric, .CommonLabels.<label>.
func variables(t reflect.Type, prefix string) []string {
	t = indirect(t)
	if t == nil {
		return nil
	}
	switch {
	case t == timeType:
		return []string{prefix}
	case t.Kind() == reflect.Struct:
		var out []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.IsExported() {
				out = append(out, variables(f.Type, prefix+"."+f.Name)...)
			}
		}
		return out
	case t.Kind() == reflect.Map:
		return []string{prefix + ".<label>"}
	case t.Kind() == reflect.Slice:
		return []string{prefix + " (a list: range over it)"}
	}
	return []string{prefix}
}
