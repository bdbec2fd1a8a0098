#!/bin/bash
# apache/kafka's kafka-configs.sh (kafka.admin.ConfigCommand, in the broker's own jar): the compose
# health check asks the broker for its configuration with it.
exec java -Xmx256m -Dlog4j2.configurationFile=/opt/kafka/log4j2.properties -cp '/opt/kafka/libs/*' \
  kafka.admin.ConfigCommand "$@"
