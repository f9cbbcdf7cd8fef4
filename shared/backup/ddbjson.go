package backup

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDB JSON is the wire form of items that DynamoDB's export to S3 writes, one {"Item":{...}} per line:
// every attribute value is an object naming its type, {"S":"…"}, {"N":"12"}, {"B":"<base64>"}, {"BOOL":true},
// {"NULL":true}, {"SS":[…]}, {"NS":[…]}, {"BS":[…]}, {"M":{…}}, {"L":[…]}. The SDK has no public codec for it,
// so it is here, with a round-trip test over every type.

// encodeValue returns the DynamoDB JSON form of an attribute value.
func encodeValue(av types.AttributeValue) (any, error) {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return map[string]any{"S": v.Value}, nil
	case *types.AttributeValueMemberN:
		return map[string]any{"N": v.Value}, nil
	case *types.AttributeValueMemberB:
		return map[string]any{"B": base64.StdEncoding.EncodeToString(v.Value)}, nil
	case *types.AttributeValueMemberBOOL:
		return map[string]any{"BOOL": v.Value}, nil
	case *types.AttributeValueMemberNULL:
		return map[string]any{"NULL": true}, nil
	case *types.AttributeValueMemberSS:
		return map[string]any{"SS": v.Value}, nil
	case *types.AttributeValueMemberNS:
		return map[string]any{"NS": v.Value}, nil
	case *types.AttributeValueMemberBS:
		out := make([]string, len(v.Value))
		for i, b := range v.Value {
			out[i] = base64.StdEncoding.EncodeToString(b)
		}
		return map[string]any{"BS": out}, nil
	case *types.AttributeValueMemberM:
		m, err := encodeMap(v.Value)
		return map[string]any{"M": m}, err
	case *types.AttributeValueMemberL:
		out := make([]any, len(v.Value))
		for i, e := range v.Value {
			var err error
			if out[i], err = encodeValue(e); err != nil {
				return nil, err
			}
		}
		return map[string]any{"L": out}, nil
	}
	return nil, fmt.Errorf("unknown attribute value type %T", av)
}

func encodeMap(item map[string]types.AttributeValue) (map[string]any, error) {
	out := make(map[string]any, len(item))
	for k, v := range item {
		e, err := encodeValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = e
	}
	return out, nil
}

// EncodeItem returns an item as one line of a DynamoDB export: {"Item":{…}}.
func EncodeItem(item map[string]types.AttributeValue) ([]byte, error) {
	m, err := encodeMap(item)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"Item": m})
}

// wireValue is one attribute value in DynamoDB JSON, exactly one field set.
type wireValue struct {
	S    *string               `json:"S"`
	N    *string               `json:"N"`
	B    *string               `json:"B"`
	BOOL *bool                 `json:"BOOL"`
	NULL *bool                 `json:"NULL"`
	SS   []string              `json:"SS"`
	NS   []string              `json:"NS"`
	BS   []string              `json:"BS"`
	M    map[string]*wireValue `json:"M"`
	L    []*wireValue          `json:"L"`
}

func (w *wireValue) decode() (types.AttributeValue, error) {
	switch {
	case w == nil:
		return nil, fmt.Errorf("empty attribute value")
	case w.S != nil:
		return &types.AttributeValueMemberS{Value: *w.S}, nil
	case w.N != nil:
		return &types.AttributeValueMemberN{Value: *w.N}, nil
	case w.B != nil:
		b, err := base64.StdEncoding.DecodeString(*w.B)
		return &types.AttributeValueMemberB{Value: b}, err
	case w.BOOL != nil:
		return &types.AttributeValueMemberBOOL{Value: *w.BOOL}, nil
	case w.NULL != nil:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case w.SS != nil:
		return &types.AttributeValueMemberSS{Value: w.SS}, nil
	case w.NS != nil:
		return &types.AttributeValueMemberNS{Value: w.NS}, nil
	case w.BS != nil:
		out := make([][]byte, len(w.BS))
		for i, s := range w.BS {
			var err error
			if out[i], err = base64.StdEncoding.DecodeString(s); err != nil {
				return nil, err
			}
		}
		return &types.AttributeValueMemberBS{Value: out}, nil
	case w.M != nil:
		m, err := decodeMap(w.M)
		return &types.AttributeValueMemberM{Value: m}, err
	case w.L != nil:
		out := make([]types.AttributeValue, len(w.L))
		for i, e := range w.L {
			var err error
			if out[i], err = e.decode(); err != nil {
				return nil, err
			}
		}
		return &types.AttributeValueMemberL{Value: out}, nil
	}
	return nil, fmt.Errorf("attribute value of no known type")
}

func decodeMap(m map[string]*wireValue) (map[string]types.AttributeValue, error) {
	out := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		d, err := v.decode()
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = d
	}
	return out, nil
}

// DecodeItem reads one line of a DynamoDB export.
func DecodeItem(line []byte) (map[string]types.AttributeValue, error) {
	var w struct {
		Item map[string]*wireValue `json:"Item"`
	}
	if err := json.Unmarshal(line, &w); err != nil {
		return nil, fmt.Errorf("decode export line: %w", err)
	}
	if w.Item == nil {
		return nil, fmt.Errorf("decode export line: no Item")
	}
	return decodeMap(w.Item)
}
