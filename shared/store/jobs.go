package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// BatchWriter is the part of the DynamoDB API that bulk deletion uses.
type BatchWriter interface {
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// CampaignDeletion is the progress of deleting a campaign with everything in it (E8).
type CampaignDeletion struct {
	Tenant, Campaign, JobID string
	Deleted                 int64
	Done                    bool
	StartedAt, UpdatedAt    time.Time
}

func jobPK(tenant string) string { return "T#" + tenant + "#JOB" }

// StartCampaignDeletion records a deletion job; the work is done by DeleteCampaignStep, as often as it
// takes. Starting a job for a campaign that already has one returns the existing job.
func (s *Store) StartCampaignDeletion(ctx context.Context, tenant, campaign, jobID string) (CampaignDeletion, error) {
	now := s.now().UTC()
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.table,
		Item: map[string]types.AttributeValue{
			AttrPK: str(jobPK(tenant)), AttrSK: str("DELCAMP#" + campaign), "job": str(jobID), "deleted": num(0),
			"done": &types.AttributeValueMemberBOOL{Value: false}, "started": str(now.Format(time.RFC3339Nano)),
			"updated": str(now.Format(time.RFC3339Nano)),
		},
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	var cond *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &cond) {
		return CampaignDeletion{}, fmt.Errorf("start deletion of campaign %s/%s: %w", tenant, campaign, err)
	}
	return s.CampaignDeletion(ctx, tenant, campaign)
}

// CampaignDeletion reads a deletion job.
func (s *Store) CampaignDeletion(ctx context.Context, tenant, campaign string) (CampaignDeletion, error) {
	item, err := s.get(ctx, jobPK(tenant), "DELCAMP#"+campaign)
	if err != nil {
		return CampaignDeletion{}, fmt.Errorf("campaign deletion %s/%s: %w", tenant, campaign, err)
	}
	started, _ := time.Parse(time.RFC3339Nano, getS(item, "started"))
	updated, _ := time.Parse(time.RFC3339Nano, getS(item, "updated"))
	return CampaignDeletion{Tenant: tenant, Campaign: campaign, JobID: getS(item, "job"), Deleted: getN(item, "deleted"),
		Done: getBool(item, "done"), StartedAt: started, UpdatedAt: updated}, nil
}

// DeleteCampaignStep deletes up to max leads of the campaign (with their notification records) and
// records the progress; call it until Done. It is safe to run again after a crash: it only ever deletes
// what is still there. Leads are found through the byCampaign index, which is eventually consistent, so
// Done is set only after a query finds nothing left.
func (s *Store) DeleteCampaignStep(ctx context.Context, bw BatchWriter, tenant, campaign string, max int) (CampaignDeletion, error) {
	deleted := 0
	for deleted < max {
		out, err := s.db.Query(ctx, &dynamodb.QueryInput{
			TableName: &s.table, IndexName: aws.String(IndexByCampaign),
			KeyConditionExpression:    aws.String("camp = :c"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":c": str("T#" + tenant + "#C#" + campaign)},
			Limit:                     aws.Int32(int32(min(100, max-deleted))),
		})
		if err != nil {
			return CampaignDeletion{}, fmt.Errorf("delete campaign %s/%s: list: %w", tenant, campaign, err)
		}
		if len(out.Items) == 0 {
			return s.recordDeletion(ctx, tenant, campaign, deleted, true)
		}
		var requests []types.WriteRequest
		for _, it := range out.Items {
			t, lead, ok := ParseLeadKey(getS(it, AttrPK), getS(it, AttrSK))
			if !ok || t != tenant {
				continue
			}
			for _, sk := range []string{skLead, skNotified} {
				requests = append(requests, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(leadPK(tenant, lead), sk)}})
			}
		}
		if err := s.batchWrite(ctx, bw, requests); err != nil {
			return CampaignDeletion{}, fmt.Errorf("delete campaign %s/%s: %w", tenant, campaign, err)
		}
		deleted += len(out.Items)
	}
	return s.recordDeletion(ctx, tenant, campaign, deleted, false)
}

func (s *Store) recordDeletion(ctx context.Context, tenant, campaign string, n int, done bool) (CampaignDeletion, error) {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: key(jobPK(tenant), "DELCAMP#"+campaign),
		UpdateExpression:    aws.String("ADD deleted :n SET done = :d, updated = :u"),
		ConditionExpression: aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":n": num(int64(n)), ":d": &types.AttributeValueMemberBOOL{Value: done}, ":u": str(s.now().UTC().Format(time.RFC3339Nano)),
		},
	})
	if err != nil {
		return CampaignDeletion{}, fmt.Errorf("record deletion of campaign %s/%s: %w", tenant, campaign, err)
	}
	return s.CampaignDeletion(ctx, tenant, campaign)
}

// batchWrite sends write requests 25 at a time, retrying what DynamoDB leaves unprocessed.
func (s *Store) batchWrite(ctx context.Context, bw BatchWriter, requests []types.WriteRequest) error {
	for len(requests) > 0 {
		n := min(25, len(requests))
		batch := requests[:n]
		requests = requests[n:]
		for attempt := 0; len(batch) > 0; attempt++ {
			out, err := bw.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{s.table: batch}})
			if err != nil {
				return err
			}
			batch = out.UnprocessedItems[s.table]
			if len(batch) > 0 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Duration(20<<min(attempt, 6)) * time.Millisecond):
				}
			}
		}
	}
	return nil
}
