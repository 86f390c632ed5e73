#!/bin/sh
# A container has no init: packages must not start their service while an image is built
# (rabbitmq-server, postgresql and redis-server all try to). See invoke-rc.d(8).
exit 101
