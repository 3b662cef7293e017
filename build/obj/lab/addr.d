build/obj/lab/addr.o: src/lab/addr.c src/common/util.h src/lab/lab_int.h \
 src/lab/lab.h
src/common/util.h:
src/lab/lab_int.h:
src/lab/lab.h:
