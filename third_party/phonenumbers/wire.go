package phonenumbers

// This file is copied into third_party/phonenumbers by scripts/phonenumbers-gen. It decodes the
// protocol-buffer wire format into the plain structs strippb writes, by their protobuf struct tags, so the
// library needs no protobuf runtime. (That runtime calls reflect.Value.MethodByName, which makes the
// linker keep every exported method of every type in the binary: about 1.5 MB of each zip.)

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// unmarshal decodes the wire-format message b into *msg, a pointer to a struct whose fields carry
// protobuf tags. It knows the kinds the phone metadata uses: string, bool, int32, uint64, nested
// messages, and repeated strings, int32s (packed or not) and messages.
func unmarshal(b []byte, msg any) error {
	v := reflect.ValueOf(msg)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return errors.New("unmarshal: want a pointer to a struct")
	}
	return decodeMessage(b, v.Elem())
}

var fieldCache sync.Map // reflect.Type → map[int]int (field number → struct field index)

func fieldsOf(t reflect.Type) map[int]int {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[int]int)
	}
	m := map[int]int{}
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("protobuf")
		parts := strings.Split(tag, ",")
		if len(parts) < 2 {
			continue
		}
		if n, err := strconv.Atoi(parts[1]); err == nil {
			m[n] = i
		}
	}
	fieldCache.Store(t, m)
	return m
}

func decodeMessage(b []byte, v reflect.Value) error {
	fields := fieldsOf(v.Type())
	for len(b) > 0 {
		key, n := uvarint(b)
		if n <= 0 {
			return errors.New("unmarshal: bad field key")
		}
		b = b[n:]
		num, wire := int(key>>3), key&7
		var val uint64
		var data []byte
		switch wire {
		case 0:
			if val, n = uvarint(b); n <= 0 {
				return errors.New("unmarshal: bad varint")
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return errors.New("unmarshal: short fixed64")
			}
			b = b[8:]
		case 2:
			l, n := uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return errors.New("unmarshal: bad length")
			}
			data, b = b[n:n+int(l)], b[n+int(l):]
		case 5:
			if len(b) < 4 {
				return errors.New("unmarshal: short fixed32")
			}
			b = b[4:]
		default:
			return fmt.Errorf("unmarshal: wire type %d", wire)
		}
		i, known := fields[num]
		if !known {
			continue // as the protobuf runtime does, an unknown field is skipped
		}
		if err := set(v.Field(i), wire, val, data); err != nil {
			return fmt.Errorf("%s.%s: %w", v.Type().Name(), v.Type().Field(i).Name, err)
		}
	}
	return nil
}

func set(f reflect.Value, wire uint64, val uint64, data []byte) error {
	t := f.Type()
	switch {
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.String && wire == 2:
		s := string(data)
		f.Set(reflect.ValueOf(&s))
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Bool && wire == 0:
		x := val != 0
		f.Set(reflect.ValueOf(&x))
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Int32 && wire == 0:
		p := reflect.New(t.Elem())
		p.Elem().SetInt(int64(int32(val)))
		f.Set(p)
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Uint64 && wire == 0:
		x := val
		f.Set(reflect.ValueOf(&x))
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct && wire == 2:
		if f.IsNil() {
			f.Set(reflect.New(t.Elem()))
		}
		return decodeMessage(data, f.Elem()) // a repeated occurrence merges, as in protobuf
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String && wire == 2:
		f.Set(reflect.Append(f, reflect.ValueOf(string(data))))
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Int32 && wire == 0:
		f.Set(reflect.Append(f, reflect.ValueOf(int32(val))))
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Int32 && wire == 2: // packed
		for len(data) > 0 {
			x, n := uvarint(data)
			if n <= 0 {
				return errors.New("bad packed varint")
			}
			f.Set(reflect.Append(f, reflect.ValueOf(int32(x))))
			data = data[n:]
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Pointer && t.Elem().Elem().Kind() == reflect.Struct && wire == 2:
		e := reflect.New(t.Elem().Elem())
		if err := decodeMessage(data, e.Elem()); err != nil {
			return err
		}
		f.Set(reflect.Append(f, e))
	default:
		return fmt.Errorf("unsupported field type %s with wire type %d", t, wire)
	}
	return nil
}

// uvarint decodes a base-128 varint; n <= 0 means b does not start with one.
func uvarint(b []byte) (x uint64, n int) {
	for i, c := range b {
		if i == 10 {
			return 0, -1
		}
		x |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return x, i + 1
		}
	}
	return 0, 0
}
