// Package awsclients builds every service client from one awsconfig.Config, for the local stack, tools and
// tests. Functions do not use it: each builds only the clients it needs, to stay small.
package awsclients

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"leadvault/shared/awsconfig"
)

// Clients makes service clients from a configuration.
type Clients struct{ awsconfig.Config }

// DynamoDB returns a DynamoDB client.
func (c Clients) DynamoDB() *dynamodb.Client { return dynamodb.NewFromConfig(c.AWS) }

// DynamoDBStreams returns a DynamoDB Streams client.
func (c Clients) DynamoDBStreams() *dynamodbstreams.Client {
	return dynamodbstreams.NewFromConfig(c.AWS)
}

// KMS returns a KMS client.
func (c Clients) KMS() *kms.Client { return kms.NewFromConfig(c.AWS) }

// S3 returns an S3 client, path-style against the stand-in.
func (c Clients) S3() *s3.Client {
	return s3.NewFromConfig(c.AWS, func(o *s3.Options) { o.UsePathStyle = c.Local() })
}

// SES returns an SES v2 client.
func (c Clients) SES() *sesv2.Client { return sesv2.NewFromConfig(c.AWS) }
