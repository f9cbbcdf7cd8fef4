// Module tools pins and builds local-kms, the KMS stand-in used by infra/local/standins.
//
// It is a module of its own so that local-kms's old dependencies (aws-sdk-go v1, logrus, an old
// golang.org/x/sys) never enter the main leadvault module's build list. Build with:
//
//	go build -C infra/local/tools -o .leadvault/bin/local-kms github.com/nsmithuk/local-kms
module leadvault/infra/local/tools

go 1.26.0

tool github.com/nsmithuk/local-kms

require (
	github.com/aws/aws-sdk-go v1.44.295 // indirect
	github.com/btcsuite/btcd/btcec/v2 v2.3.2 // indirect
	github.com/decred/dcrd/dcrec/secp256k1/v4 v4.1.0 // indirect
	github.com/gofrs/uuid v4.2.0+incompatible // indirect
	github.com/golang/snappy v0.0.4 // indirect
	github.com/jmespath/go-jmespath v0.4.0 // indirect
	github.com/nsmithuk/local-kms v0.0.0-20231025161602-e4d9425700fe // indirect
	github.com/sirupsen/logrus v1.10.2 // indirect
	github.com/syndtr/goleveldb v1.0.1-0.20210819022825-2ae1ddf74ef7 // indirect
	golang.org/x/sys v0.50.0 // indirect
	gopkg.in/yaml.v2 v2.4.0 // indirect
)
