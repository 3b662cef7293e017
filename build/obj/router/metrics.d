build/obj/router/metrics.o: src/router/metrics.c src/router/metrics.h \
 src/common/util.h src/router/routes.h src/router/worker.h \
 src/common/http1.h src/router/accesslog.h src/router/upstream.h
src/router/metrics.h:
src/common/util.h:
src/router/routes.h:
src/router/worker.h:
src/common/http1.h:
src/router/accesslog.h:
src/router/upstream.h:
