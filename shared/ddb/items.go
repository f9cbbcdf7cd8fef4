package ddb

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Marshal turns an item value (a struct with dynamodbav tags) into its attributes. The item types of the
// store and the audit log always marshal, so an error is a programming error that every test of their
// writes shows; Marshal panics rather than return an error no caller could handle.
func Marshal(v any) map[string]types.AttributeValue {
	m, err := attributevalue.MarshalMap(v)
	if err != nil {
		panic(fmt.Sprintf("ddb: marshal %T: %v", v, err))
	}
	return m
}

// Unmarshal reads attributes into an item value.
func Unmarshal(item map[string]types.AttributeValue, v any) error {
	if err := attributevalue.UnmarshalMap(item, v); err != nil {
		return fmt.Errorf("decode %T: %w", v, err)
	}
	return nil
}

// Build builds an expression whose shape is fixed in code; like Marshal, an error is a programming error.
func Build(b expression.Builder) expression.Expression {
	e, err := b.Build()
	if err != nil {
		panic(fmt.Sprintf("ddb: build expression: %v", err))
	}
	return e
}

// OnlyIf is an expression of the condition c alone.
func OnlyIf(c expression.ConditionBuilder) expression.Expression {
	return Build(expression.NewBuilder().WithCondition(c))
}
