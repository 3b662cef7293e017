build/obj/rackd/api.o: src/rackd/api.c src/rackd/api.h src/common/json.h \
 src/common/util.h src/common/http1.h src/common/log.h src/common/net.h \
 src/rackd/rack.h src/common/ev.h src/rackd/store.h
src/rackd/api.h:
src/common/json.h:
src/common/util.h:
src/common/http1.h:
src/common/log.h:
src/common/net.h:
src/rackd/rack.h:
src/common/ev.h:
src/rackd/store.h:
