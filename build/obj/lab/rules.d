build/obj/lab/rules.o: src/lab/rules.c src/common/util.h \
 src/lab/lab_int.h src/lab/lab.h
src/common/util.h:
src/lab/lab_int.h:
src/lab/lab.h:
