build/obj/lab/dnsctl.o: src/lab/dnsctl.c src/common/log.h \
 src/common/util.h src/lab/lab_int.h src/lab/lab.h
src/common/log.h:
src/common/util.h:
src/lab/lab_int.h:
src/lab/lab.h:
