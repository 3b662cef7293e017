build/obj/router/upstream.o: src/router/upstream.c src/router/upstream.h \
 src/common/ev.h src/common/log.h src/common/net.h src/common/util.h \
 src/router/conn.h src/router/routes.h src/router/worker.h \
 src/common/http1.h src/router/accesslog.h src/router/metrics.h
src/router/upstream.h:
src/common/ev.h:
src/common/log.h:
src/common/net.h:
src/common/util.h:
src/router/conn.h:
src/router/routes.h:
src/router/worker.h:
src/common/http1.h:
src/router/accesslog.h:
src/router/metrics.h:
