/* The fake libIddk2000.so, continued: the camera's own ISO/IEC 19794-6 output, and the
 * control panel the tests (and the environment) use. See fake_iddk2000.c. */
#include <stdio.h>

#include "fake_iddk2000.h"

/* A process that cannot reach the control panel (`ewp sensor iris ... --backend iddk` run
 * by a test) sets the camera up through the environment:
 *   FAKE_IDDK_PLUGGED=0|1  FAKE_IDDK_BINOCULAR=0|1  FAKE_IDDK_TIMING=ready_ms,capture_ms
 *   FAKE_IDDK_RIGHT=present,total,usable  FAKE_IDDK_LEFT=...  FAKE_IDDK_FAULT=n (FAULT_*) */
void fake_from_environment(void)
{
    const char *v;
    int a, b, c;
    if ((v = getenv("FAKE_IDDK_PLUGGED")) != NULL)
        S.plugged = atoi(v) ? 1 : 0;
    if ((v = getenv("FAKE_IDDK_BINOCULAR")) != NULL)
        S.binocular = atoi(v) ? 1 : 0;
    if ((v = getenv("FAKE_IDDK_TIMING")) != NULL && sscanf(v, "%d,%d", &a, &b) == 2 && a >= 0 &&
        b >= 0) {
        S.ready_ms = a;
        S.capture_ms = b;
    }
    const char *names[SLOTS] = {"FAKE_IDDK_RIGHT", "FAKE_IDDK_LEFT"};
    for (int i = 0; i < SLOTS; i++) {
        if ((v = getenv(names[i])) != NULL && sscanf(v, "%d,%d,%d", &a, &b, &c) == 3 &&
            b >= 0 && b <= 100 && c >= 0 && c <= 100) {
            S.eyes[i].present = a ? 1 : 0;
            S.eyes[i].total = (unsigned char)b;
            S.eyes[i].usable = (unsigned char)c;
        }
    }
    if ((v = getenv("FAKE_IDDK_FAULT")) != NULL) {
        a = atoi(v);
        if (a == FAULT_DEVICE_NOT_FOUND)
            S.sticky_not_found = 1;
        else if (a > FAULT_DEVICE_NOT_FOUND && a <= FAULT_UNPLUG_MID_CAPTURE)
            S.once_fault = a;
    }
}

static unsigned char *put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
    return p + 2;
}

static unsigned char *put32(unsigned char *p, unsigned long v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    return p + 4;
}

/* An ISO/IEC 19794-6:2011 record of one eye, uncompressed (the camera's own ISO output). */
IddkResult Iddk_GetResultIsoImage(HIRICAMM hDevice, IddkIsoRevision isoRevision,
                                  IddkImageFormat imageFormat, IddkImageKind imageKind,
                                  unsigned char nCompressionQuality, IddkEyeSubtype eyeSubtype,
                                  IddkDataBuffer *pIsoImage)
{
    (void)nCompressionQuality;
    fake_enter(13);
    IddkResult r = fake_check_handle(hDevice);
    if (r != R_OK)
        return r;
    if (pIsoImage == NULL)
        return R_INVALID_PARAMETER;
    if (isoRevision != ISO_2011 || imageFormat != FORMAT_MONO_RAW ||
        (imageKind != KIND_K1 && imageKind != KIND_K2))
        return R_UNSUPPORTED_IMAGE_FORMAT;
    fake_advance();
    int slot;
    if (S.binocular && eyeSubtype == EYE_RIGHT)
        slot = 0;
    else if (S.binocular && eyeSubtype == EYE_LEFT)
        slot = 1;
    else if (!S.binocular && eyeSubtype != EYE_BOTH)
        slot = S.requested[1] ? 1 : 0;
    else
        return R_WRONG_EYE_SUBTYPE;
    if (S.status != S_COMPLETE || !S.frame[slot])
        return R_SE_NO_FRAME_AVAILABLE;
    if (!S.qualified[slot])
        return slot == 0 ? R_SE_RIGHT_FRAME_UNQUALIFIED : R_SE_LEFT_FRAME_UNQUALIFIED;
    unsigned long representation = 4 + 9 + 5 + 1 + 5 + 2 + 1 + 1 + 1 + 1 + 4 + 1 + 2 + 4 + 12 + 4
                                   + PIXELS;
    unsigned long total = 16 + representation;
    free(S.iso);
    S.iso = malloc(total);
    if (S.iso == NULL)
        return R_FAILED;
    unsigned char *p = S.iso;
    memcpy(p, "IIR\0" "020\0", 8);
    p = put32(p + 8, total);
    p = put16(p, 1);
    *p++ = 0;                  /* certification flag */
    *p++ = 1;                  /* eyes represented */
    p = put32(p, representation);
    memset(p, 0, 9);           /* capture date and time */
    p = put16(p, 2026);
    *p++ = 1;
    *p++ = 1;
    p += 5;
    *p++ = 1;                  /* CMOS/CCD */
    p = put16(p, 0);           /* device vendor */
    p = put16(p, 0);           /* device type */
    *p++ = 1;                  /* one quality block */
    *p++ = S.eyes[slot].total;
    p = put16(p, 0);           /* quality vendor: unreported */
    p = put16(p, 0);
    p = put16(p, 1);           /* representation number */
    *p++ = slot == 0 ? 1 : 2;  /* eye label */
    *p++ = 2;                  /* VGA */
    *p++ = FORMAT_MONO_RAW;
    *p++ = 0x45;               /* base orientations, lossless */
    p = put16(p, WIDTH);
    p = put16(p, HEIGHT);
    *p++ = 8;
    p = put16(p, 0);           /* range */
    p = put16(p, 0xFFFF);      /* roll angle undefined */
    p = put16(p, 0xFFFF);      /* roll uncertainty undefined */
    memset(p, 0, 12);          /* iris centre and diameter: undefined */
    p += 12;
    p = put32(p, PIXELS);
    memcpy(p, fake_eye_pixels(slot), PIXELS);
    pIsoImage->data = S.iso;
    pIsoImage->dataSize = (int)total;
    return R_OK;
}

/* ---- the test's control panel ------------------------------------------------------ */

void FakeIddk_Reset(void)
{
    fake_ensure_defaults();
    fake_defaults();
}

void FakeIddk_SetPlugged(int plugged)
{
    fake_ensure_defaults();
    if (S.plugged && !plugged)
        S.generation++; /* whatever was open is gone */
    S.plugged = plugged ? 1 : 0;
}

void FakeIddk_SetBinocular(int binocular)
{
    fake_ensure_defaults();
    S.binocular = binocular ? 1 : 0;
}

void FakeIddk_SetTiming(int ready_ms, int capture_ms)
{
    fake_ensure_defaults();
    S.ready_ms = ready_ms;
    S.capture_ms = capture_ms;
}

/* slot 0 right, 1 left; pixels NULL: drawn here; otherwise 640x480 bytes, copied. */
int FakeIddk_SetEye(int slot, int present, int total, int usable, const unsigned char *pixels,
                    int length)
{
    fake_ensure_defaults();
    if (slot < 0 || slot >= SLOTS || total < 0 || total > 100 || usable < 0 || usable > 100)
        return -1;
    if (pixels != NULL && length != PIXELS)
        return -1;
    Eye *eye = &S.eyes[slot];
    eye->present = present ? 1 : 0;
    eye->total = (unsigned char)total;
    eye->usable = (unsigned char)usable;
    free(eye->pixels);
    eye->pixels = NULL;
    if (pixels != NULL) {
        eye->pixels = malloc(PIXELS);
        if (eye->pixels == NULL)
            return -1;
        memcpy(eye->pixels, pixels, PIXELS);
    }
    return 0;
}

/* 1 device not found (sticky until FakeIddk_Inject(0)), others once: see FAULT_*. */
int FakeIddk_Inject(int fault)
{
    fake_ensure_defaults();
    if (fault < 0 || fault > FAULT_UNPLUG_MID_CAPTURE)
        return -1;
    if (fault == FAULT_NONE) {
        S.sticky_not_found = 0;
        S.once_fault = FAULT_NONE;
    } else if (fault == FAULT_DEVICE_NOT_FOUND) {
        S.sticky_not_found = 1;
    } else {
        S.once_fault = fault;
    }
    return 0;
}

static int call_index(const char *name)
{
    for (int i = 0; i < CALLS && CALL_NAMES[i] != NULL; i++)
        if (strcmp(CALL_NAMES[i], name) == 0)
            return i;
    return -1;
}

int FakeIddk_SetDelay(const char *call, int ms)
{
    fake_ensure_defaults();
    int i = call_index(call);
    if (i < 0)
        return -1;
    S.delay_ms[i] = ms;
    return 0;
}

long FakeIddk_Calls(const char *call)
{
    fake_ensure_defaults();
    int i = call_index(call);
    return i < 0 ? -1 : S.calls[i];
}

int FakeIddk_Status(void)
{
    fake_ensure_defaults();
    fake_advance();
    return S.status;
}

int FakeIddk_OpenHandles(void)
{
    fake_ensure_defaults();
    return S.handle != NULL;
}

int FakeIddk_Led(int led)
{
    fake_ensure_defaults();
    return led >= 0 && led < 16 ? S.leds[led] : -1;
}

double FakeIddk_CaptureSeconds(void)
{
    fake_ensure_defaults();
    return S.capture_seconds;
}

long FakeIddk_Captures(void)
{
    fake_ensure_defaults();
    return S.captures;
}

long FakeIddk_StructSize(const char *name)
{
    if (strcmp(name, "IddkConfig") == 0)
        return (long)sizeof(IddkConfig);
    if (strcmp(name, "IddkDataBuffer") == 0)
        return (long)sizeof(IddkDataBuffer);
    if (strcmp(name, "IddkImage") == 0)
        return (long)sizeof(IddkImage);
    if (strcmp(name, "IddkIrisQuality") == 0)
        return (long)sizeof(IddkIrisQuality);
    if (strcmp(name, "IddkDeviceInfo") == 0)
        return (long)sizeof(IddkDeviceInfo);
    return -1;
}

long FakeIddk_FieldOffset(const char *name)
{
    if (strcmp(name, "IddkImage.imageData") == 0)
        return (long)offsetof(IddkImage, imageData);
    if (strcmp(name, "IddkImage.imageDataLen") == 0)
        return (long)offsetof(IddkImage, imageDataLen);
    if (strcmp(name, "IddkDeviceInfo.propertyFlag") == 0)
        return (long)offsetof(IddkDeviceInfo, propertyFlag);
    if (strcmp(name, "IddkDeviceInfo.deviceFeatures") == 0)
        return (long)offsetof(IddkDeviceInfo, deviceFeatures);
    if (strcmp(name, "IddkConfig.resetOnOpenDevice") == 0)
        return (long)offsetof(IddkConfig, resetOnOpenDevice);
    if (strcmp(name, "IddkDataBuffer.data") == 0)
        return (long)offsetof(IddkDataBuffer, data);
    return -1;
}
