module github.com/mailrep/mailrep

go 1.26.8

require (
	github.com/dlclark/regexp2 v1.12.0
	github.com/emersion/go-message v0.18.2
	github.com/fsnotify/fsnotify v1.6.0
	github.com/miekg/dns v1.1.73
	github.com/nxadm/tail v1.4.11
	github.com/robfig/cron/v3 v3.0.1
	go.etcd.io/bbolt v1.5.0
	go.yaml.in/yaml/v3 v3.0.6
	golang.org/x/net v0.57.0
	golang.org/x/time v0.16.0
)

require (
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/text v0.40.0 // indirect
	gopkg.in/tomb.v1 v1.0.0-20141024135613-dd632973f1e7 // indirect
)
