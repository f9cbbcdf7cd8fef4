package phonenumbers

// This file is copied into third_party/phonenumbers by scripts/phonenumbers-gen. It reads the
// protocol-buffer wire format for the decodeWire methods scripts/phonenumbers/strippb generates from the
// message types' protobuf tags, so the library needs no protobuf runtime. (That runtime calls
// reflect.Value.MethodByName, which makes the linker keep every exported method of every type in the
// binary: about 1.5 MB of each zip.)

import (
	"errors"
	"fmt"
)

// unmarshal decodes the wire-format message b into m.
func unmarshal(b []byte, m interface{ decodeWire([]byte) error }) error {
	if err := m.decodeWire(b); err != nil {
		return fmt.Errorf("decode metadata: %w", err)
	}
	return nil
}

// field is one field's value as read from the wire: a varint, or the bytes of a length-delimited field.
type field struct {
	wire  uint64
	value uint64
	data  []byte
}

func (f field) varint() (uint64, error) {
	if f.wire != 0 {
		return 0, fmt.Errorf("wire type %d where a varint belongs", f.wire)
	}
	return f.value, nil
}

func (f field) bytes() ([]byte, error) {
	if f.wire != 2 {
		return nil, fmt.Errorf("wire type %d where a length-delimited field belongs", f.wire)
	}
	return f.data, nil
}

// int32s appends a repeated int32, sent one per field or packed.
func (f field) int32s(dst *[]int32) error {
	switch f.wire {
	case 0:
		*dst = append(*dst, int32(f.value))
		return nil
	case 2:
		for b := f.data; len(b) > 0; {
			x, n := uvarint(b)
			if n <= 0 {
				return errors.New("bad packed varint")
			}
			*dst = append(*dst, int32(x))
			b = b[n:]
		}
		return nil
	}
	return fmt.Errorf("wire type %d where a repeated int32 belongs", f.wire)
}

// eachField calls fn with every field of the message b, in order. Fixed-width fields, which the phone
// metadata does not use, are skipped, as are fields fn does not know (as the protobuf runtime does).
func eachField(b []byte, fn func(num int, f field) error) error {
	for len(b) > 0 {
		key, n := uvarint(b)
		if n <= 0 {
			return errors.New("bad field key")
		}
		b = b[n:]
		f := field{wire: key & 7}
		switch f.wire {
		case 0:
			if f.value, n = uvarint(b); n <= 0 {
				return errors.New("bad varint")
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return errors.New("short fixed64")
			}
			b = b[8:]
			continue
		case 2:
			l, n := uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return errors.New("bad length")
			}
			f.data, b = b[n:n+int(l)], b[n+int(l):]
		case 5:
			if len(b) < 4 {
				return errors.New("short fixed32")
			}
			b = b[4:]
			continue
		default:
			return fmt.Errorf("wire type %d", f.wire)
		}
		if err := fn(int(key>>3), f); err != nil {
			return fmt.Errorf("field %d: %w", key>>3, err)
		}
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
