/*
 * A fake libIddk2000.so: IriTech's IDDK 2000 C API, as its public headers declare it
 * (Iddk2000Apis.h, Iddk2000Defs.h, IddkBase.h), driving a simulated IriShield camera.
 *
 * Written for ewp's tests from the names, values and layouts those headers publish; no vendor
 * binary or source went into it. It models what the station relies on:
 *
 *   - devices found by Iddk_ScanDevices while "plugged", opened once at a time;
 *   - the capture state machine IDLE -> READY -> CAPTURING -> COMPLETE (or ABORT), with
 *     timing: READY lasts ready_ms, CAPTURING capture_ms (monotonic clock, no threads: the
 *     state advances when the caller asks for it);
 *   - per-eye presence, total score and usable area, and a 640x480 8-bit image per eye
 *     (given by the test, or drawn here simply);
 *   - qualification by quality mode: a frame whose total score is below the mode's bar is
 *     "unqualified" (normal 40, high 55, very high 70 -- the fake's own bars);
 *   - faults: device not found, an I/O timeout mid-capture, the device unplugged
 *     mid-capture, no qualified frame, the right or left frame unqualified, and a delay
 *     added to any call (a camera that hangs).
 *
 * The FakeIddk_* functions are the test's control panel; they are not part of the IDDK API.
 * Build: gcc -shared -fPIC -O2 -o libIddk2000.so fake_iddk2000.c
 */
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <math.h>

/* ---- the API's types (IddkBase.h, Iddk2000Defs.h) ---------------------------------- */

typedef void *HIRICAMM;
typedef int IddkResult;              /* an enum in the header: int-sized */
typedef int IddkCaptureStatus;
typedef int IddkCaptureMode;
typedef int IddkQualityMode;
typedef int IddkCaptureOperationMode;
typedef int IddkEyeSubtype;
typedef int IddkImageKind;
typedef int IddkImageFormat;
typedef int IddkIsoRevision;
typedef int IddkLedId;

enum {
    R_OK = 0, R_FAILED = 1, R_DEVICE_NOT_FOUND = 2, R_DEVICE_NOT_OPEN = 4,
    R_DEVICE_ALREADY_OPEN = 5, R_DEVICE_IO_FAILED = 8, R_DEVICE_IO_TIMEOUT = 9,
    R_UNSUPPORTED_IMAGE_FORMAT = 11, R_INVALID_HANDLE = 14, R_INVALID_PARAMETER = 15,
    R_WRONG_EYE_SUBTYPE = 22, R_DEV_BUSY = 0x1000 + 11,
    R_SE_NOT_INIT = 0x3000 + 1, R_SE_NO_FRAME_AVAILABLE = 0x3000 + 5,
    R_SE_NO_QUALIFIED_FRAME = 0x3000 + 6, R_SE_RIGHT_FRAME_UNQUALIFIED = 0x3000 + 7,
    R_SE_LEFT_FRAME_UNQUALIFIED = 0x3000 + 8,
};
enum { S_IDLE = 0, S_READY = 1, S_CAPTURING = 2, S_COMPLETE = 3, S_ABORT = 5 };
enum { EYE_UNKNOWN = 0, EYE_RIGHT = 1, EYE_LEFT = 2, EYE_BOTH = 3 };
enum { FORMAT_MONO_RAW = 0x02 };
enum { KIND_K1 = 0x01, KIND_K2 = 0x02 };
enum { ISO_2005 = 1, ISO_2011 = 2 };

typedef struct {
    int commStd;
    unsigned char enableLog;
    unsigned int uartBaudrate;
    int uartFlowcontrol;
    unsigned char resetOnOpenDevice;
} IddkConfig;

typedef struct {
    int dataSize;
    unsigned char *data;
} IddkDataBuffer;

typedef struct {
    unsigned char imageKind;
    unsigned char imageFormat;
    int imageWidth;
    int imageHeight;
    unsigned char *imageData;
    int imageDataLen;
} IddkImage;

typedef struct {
    unsigned char totalScore;
    unsigned char usableArea;
} IddkIrisQuality;

typedef struct {
    char productName[64];
    unsigned char isBinocular;
    char serialNumber[17];
    unsigned int propertyFlag;
    unsigned int kernelVersion;
    unsigned int kernelRevision;
    unsigned int deviceFeatures;
} IddkDeviceInfo;

typedef void (*IDDKCAPTUREPROC)(void *, IddkImage *, int, IddkCaptureStatus *, IddkResult *);

/* ---- the simulated camera --------------------------------------------------------- */

#define WIDTH 640
#define HEIGHT 480
#define PIXELS (WIDTH * HEIGHT)
#define SLOTS 2 /* 0 right eye, 1 left eye (the order of the SDK's result arrays) */

enum {
    FAULT_NONE = 0,
    FAULT_DEVICE_NOT_FOUND = 1,       /* sticky: scans and opens find nothing */
    FAULT_IO_TIMEOUT_MID_CAPTURE = 2, /* once: the status poll during CAPTURING times out */
    FAULT_NO_QUALIFIED_FRAME = 3,     /* once: the next result has no qualified frame */
    FAULT_RIGHT_UNQUALIFIED = 4,      /* once */
    FAULT_LEFT_UNQUALIFIED = 5,       /* once */
    FAULT_UNPLUG_MID_CAPTURE = 6,     /* once: the camera is pulled out while CAPTURING */
};

typedef struct {
    unsigned magic;
    unsigned generation;
} Handle;

typedef struct {
    int present;
    unsigned char total;
    unsigned char usable;
    unsigned char *pixels; /* NULL: drawn here */
} Eye;

#define CALLS 20
static const char *CALL_NAMES[CALLS] = {
    "Iddk_GetSdkVersion", "Iddk_ScanDevices", "Iddk_OpenDevice", "Iddk_CloseDevice",
    "Iddk_GetDeviceInfo", "Iddk_InitCamera", "Iddk_DeinitCamera", "Iddk_StartCapture",
    "Iddk_StopCapture", "Iddk_ClearCapture", "Iddk_GetCaptureStatus", "Iddk_GetResultImage",
    "Iddk_GetResultQuality", "Iddk_GetResultIsoImage", "Iddk_ControlLed", "Iddk_OperateCapture",
    NULL, NULL, NULL, NULL,
};

static struct {
    int plugged;
    unsigned generation;
    int binocular;
    int ready_ms, capture_ms;
    int sticky_not_found;
    int once_fault;
    Handle *handle;
    int initialised;
    int status;
    double started_ms, capturing_ms, complete_ms;
    int requested[SLOTS];
    int quality_mode;
    int frame[SLOTS], qualified[SLOTS];
    int result_fault;
    int last_error; /* what a capture that aborted by itself ran into */
    Eye eyes[SLOTS];
    unsigned char drawn[SLOTS][PIXELS];
    int drawn_ok[SLOTS];
    IddkImage images[SLOTS];
    unsigned char copies[SLOTS][PIXELS];
    IddkIrisQuality qualities[SLOTS];
    unsigned char *iso;
    long calls[CALLS];
    int delay_ms[CALLS];
    double capture_seconds;
    long captures;
    int leds[16];
    char desc[64];
    const char *descs[1];
} S;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0) {
    }
}

static void enter(int index)
{
    S.calls[index]++;
    if (S.delay_ms[index] > 0)
        sleep_ms(S.delay_ms[index]);
}

/* A process that cannot reach the control panel (`ewp sensor iris ... --backend iddk` run
 * by a test) sets the camera up through the environment:
 *   FAKE_IDDK_PLUGGED=0|1  FAKE_IDDK_BINOCULAR=0|1  FAKE_IDDK_TIMING=ready_ms,capture_ms
 *   FAKE_IDDK_RIGHT=present,total,usable  FAKE_IDDK_LEFT=...  FAKE_IDDK_FAULT=n (FAULT_*) */
static void from_environment(void)
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

static void defaults(void)
{
    for (int i = 0; i < SLOTS; i++)
        free(S.eyes[i].pixels);
    free(S.handle);
    free(S.iso);
    memset(&S, 0, sizeof S);
    S.plugged = 1;
    S.generation = 1;
    S.binocular = 1;
    S.ready_ms = 20;
    S.capture_ms = 80;
    for (int i = 0; i < SLOTS; i++) {
        S.eyes[i].present = 1;
        S.eyes[i].total = 80;
        S.eyes[i].usable = 90;
    }
    strcpy(S.desc, "IriShield-USB-FAKE:0001");
    S.descs[0] = S.desc;
    from_environment();
}

static int ready;
static void ensure_defaults(void)
{
    if (!ready) {
        ready = 1;
        defaults();
    }
}

/* A plain synthetic eye: skin, sclera, a textured iris disc, a dark pupil, one glint. */
static void draw_eye(int slot)
{
    unsigned char *out = S.drawn[slot];
    double cx = WIDTH / 2.0 + (slot ? -12 : 12), cy = HEIGHT / 2.0, ri = 112, rp = 44;
    for (int y = 0; y < HEIGHT; y++) {
        for (int x = 0; x < WIDTH; x++) {
            double dx = x - cx, dy = y - cy, r = sqrt(dx * dx + dy * dy), v;
            if (r < rp)
                v = 25;
            else if (r < ri)
                v = 105 + 22 * sin(atan2(dy, dx) * (23 + slot * 4)) * cos(r * 0.21);
            else if (r < ri * 1.9)
                v = 200;
            else
                v = 160;
            if ((x - cx - 12) * (x - cx - 12) + (y - cy + 10) * (y - cy + 10) < 36)
                v = 255;
            out[y * WIDTH + x] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
    S.drawn_ok[slot] = 1;
}

static const unsigned char *eye_pixels(int slot)
{
    if (S.eyes[slot].pixels)
        return S.eyes[slot].pixels;
    if (!S.drawn_ok[slot])
        draw_eye(slot);
    return S.drawn[slot];
}

static int bar(void)
{
    return S.quality_mode == 3 ? 70 : S.quality_mode == 2 ? 55 : 40;
}

static void finish_capture(double at)
{
    S.status = S_COMPLETE;
    S.complete_ms = at;
    S.capture_seconds += (at - S.started_ms) / 1000.0;
    S.captures++;
    for (int i = 0; i < SLOTS; i++) {
        S.frame[i] = S.requested[i] && S.eyes[i].present;
        S.qualified[i] = S.frame[i] && S.eyes[i].total >= bar();
    }
    if (S.result_fault == FAULT_NO_QUALIFIED_FRAME)
        S.qualified[0] = S.qualified[1] = 0;
    else if (S.result_fault == FAULT_RIGHT_UNQUALIFIED)
        S.qualified[0] = 0;
    else if (S.result_fault == FAULT_LEFT_UNQUALIFIED)
        S.qualified[1] = 0;
    S.result_fault = FAULT_NONE;
}

/* Move the state machine to where the clock says it is. */
static void advance(void)
{
    double t = now_ms();
    if (S.status == S_READY && t >= S.started_ms + S.ready_ms) {
        S.status = S_CAPTURING;
        S.capturing_ms = S.started_ms + S.ready_ms;
    }
    if (S.status == S_CAPTURING && t >= S.capturing_ms + S.capture_ms)
        finish_capture(S.capturing_ms + S.capture_ms);
}

static IddkResult check_handle(HIRICAMM h)
{
    ensure_defaults();
    if (h == NULL || S.handle == NULL || (Handle *)h != S.handle)
        return R_INVALID_HANDLE;
    if (!S.plugged || S.handle->generation != S.generation)
        return R_DEVICE_IO_FAILED;
    return R_OK;
}

/* ---- the IDDK 2000 API ------------------------------------------------------------ */

unsigned int Iddk_GetSdkVersion(void)
{
    ensure_defaults();
    enter(0);
    return (3u << 16) | (3u << 8) | 1u; /* reads as 3.3.1 */
}

IddkResult Iddk_ScanDevices(const char ***ppDeviceDescs, int *pnDevicesCount)
{
    ensure_defaults();
    enter(1);
    if (ppDeviceDescs == NULL || pnDevicesCount == NULL)
        return R_INVALID_PARAMETER;
    *ppDeviceDescs = NULL;
    *pnDevicesCount = 0;
    if (!S.plugged || S.sticky_not_found)
        return R_DEVICE_NOT_FOUND;
    *ppDeviceDescs = S.descs;
    *pnDevicesCount = 1;
    return R_OK;
}

IddkResult Iddk_OpenDevice(const char *pDeviceDesc, HIRICAMM *phDevice)
{
    ensure_defaults();
    enter(2);
    if (pDeviceDesc == NULL || phDevice == NULL)
        return R_INVALID_PARAMETER;
    *phDevice = NULL;
    if (!S.plugged || S.sticky_not_found || strcmp(pDeviceDesc, S.desc) != 0)
        return R_DEVICE_NOT_FOUND;
    if (S.handle != NULL) {
        if (S.handle->generation == S.generation)
            return R_DEVICE_ALREADY_OPEN;
        free(S.handle); /* a handle from before a re-plug: gone with the old device */
        S.handle = NULL;
    }
    S.handle = calloc(1, sizeof(Handle));
    if (S.handle == NULL)
        return R_FAILED;
    S.handle->magic = 0x49524953u;
    S.handle->generation = S.generation;
    S.initialised = 0;
    S.status = S_IDLE;
    *phDevice = S.handle;
    return R_OK;
}

IddkResult Iddk_CloseDevice(HIRICAMM hDevice)
{
    ensure_defaults();
    enter(3);
    if (hDevice == NULL || (Handle *)hDevice != S.handle)
        return R_INVALID_HANDLE;
    free(S.handle);
    S.handle = NULL;
    S.initialised = 0;
    S.status = S_IDLE;
    return R_OK;
}

IddkResult Iddk_GetDeviceInfo(HIRICAMM hDevice, IddkDeviceInfo *pDeviceInfo)
{
    enter(4);
    IddkResult r = check_handle(hDevice);
    if (r != R_OK)
        return r;
    if (pDeviceInfo == NULL)
        return R_INVALID_PARAMETER;
    memset(pDeviceInfo, 0, sizeof *pDeviceInfo);
    strcpy(pDeviceInfo->productName, S.binocular ? "IriShield-USB BK 2121U (fake)"
                                                 : "IriShield-USB MK 2120U (fake)");
    pDeviceInfo->isBinocular = (unsigned char)S.binocular;
    memcpy(pDeviceInfo->serialNumber, "FAKE0000000000001", 17); /* all 17, no terminator */
    pDeviceInfo->kernelVersion = 2;
    pDeviceInfo->kernelRevision = 7;
    pDeviceInfo->deviceFeatures = 0;
    return R_OK;
}

IddkResult Iddk_InitCamera(HIRICAMM hDevice, int *pnImageWidth, int *pnImageHeight)
{
    enter(5);
    IddkResult r = check_handle(hDevice);
    if (r != R_OK)
        return r;
    S.initialised = 1;
    S.status = S_IDLE;
    if (pnImageWidth)
        *pnImageWidth = WIDTH;
    if (pnImageHeight)
        *pnImageHeight = HEIGHT;
    return R_OK;
}

IddkResult Iddk_DeinitCamera(HIRICAMM hDevice)
{
    enter(6);
    IddkResult r = check_handle(hDevice);
    if (r != R_OK)
        return r;
    S.initialised = 0;
    S.status = S_IDLE;
    return R_OK;
}

IddkResult Iddk_StartCapture(HIRICAMM hDevice, IddkCaptureMode captureMode, int nCaptureModeParam,
                             IddkQualityMode qualityMode, IddkCaptureOperationMode operationMode,
                             IddkEyeSubtype eyeSubtype, unsigned char bAutoLeds,
                             IDDKCAPTUREPROC captureProc, void *pParam)
{
    (void)bAutoLeds;
    (void)captureProc; /* progress callbacks are not simulated: callers poll the status */
    (void)pParam;
    enter(7);
    IddkResult r = check_handle(hDevice);
    if (r != R_OK)
        return r;
    if (!S.initialised)
        return R_SE_NOT_INIT;
    if (captureMode < 1 || captureMode > 2 || nCaptureModeParam < 1 || nCaptureModeParam > 600 ||
        qualityMode < 1 || qualityMode > 3 || operationMode < 1 || operationMode > 2)
        return R_INVALID_PARAMETER;
    if (S.status == S_READY || S.status == S_CAPTURING)
        return R_DEV_BUSY;
    memset(S.requested, 0, sizeof S.requested);
    if (S.binocular) {
        if (eyeSubtype == EYE_RIGHT)
            S.requested[0] = 1;
        else if (eyeSubtype == EYE_LEFT)
            S.requested[1] = 1;
        else if (eyeSubtype == EYE_BOTH || eyeSubtype == EYE_UNKNOWN)
            S.requested[0] = S.requested[1] = 1;
        else
            return R_WRONG_EYE_SUBTYPE;
    } else {
        if (eyeSubtype == EYE_BOTH || eyeSubtype < 0 || eyeSubtype > EYE_BOTH)
            return R_WRONG_EYE_SUBTYPE;
        S.requested[eyeSubtype == EYE_LEFT ? 1 : 0] = 1;
    }
    S.quality_mode = qualityMode;
    memset(S.frame, 0, sizeof S.frame);
    memset(S.qualified, 0, sizeof S.qualified);
    S.last_error = R_OK;
    if (S.once_fault == FAULT_NO_QUALIFIED_FRAME || S.once_fault == FAULT_RIGHT_UNQUALIFIED ||
        S.once_fault == FAULT_LEFT_UNQUALIFIED) {
        S.result_fault = S.once_fault;
        S.once_fault = FAULT_NONE;
    }
    S.started_ms = now_ms();
    S.status = S_READY;
    return R_OK;
}

IddkResult Iddk_OperateCapture(HIRICAMM hDevice)
{
    enter(15);
    return check_handle(hDevice);
}

IddkResult Iddk_StopCapture(HIRICAMM hDevice)
{
    enter(8);
    IddkResult r = check_handle(hDevice);
    if (r != R_OK)
        return r;
    advance();
    if (S.status == S_READY || S.status == S_CAPTURING)
        S.status = S_ABORT;
    return R_OK;
}

IddkResult Iddk_ClearCapture(HIRICAMM hDevice, IddkEyeSubtype eyeSubtype)
{
    (void)eyeSubtype;
    enter(9);
    IddkResult r = check_handle(hDevice);
    if (r != R_OK)
        return r;
    advance();
    if (S.status == S_READY || S.status == S_CAPTURING)
        return R_DEV_BUSY;
    memset(S.frame, 0, sizeof S.frame);
    memset(S.qualified, 0, sizeof S.qualified);
    S.status = S_IDLE;
    return R_OK;
}

IddkResult Iddk_GetCaptureStatus(HIRICAMM hDevice, IddkCaptureStatus *pCaptureStatus)
{
    enter(10);
    IddkResult r = check_handle(hDevice);
    if (r != R_OK)
        return r;
    if (pCaptureStatus == NULL)
        return R_INVALID_PARAMETER;
    advance();
    if (S.status == S_CAPTURING && S.once_fault == FAULT_IO_TIMEOUT_MID_CAPTURE) {
        S.once_fault = FAULT_NONE;
        S.status = S_ABORT;
        S.last_error = R_DEVICE_IO_TIMEOUT;
        return R_DEVICE_IO_TIMEOUT;
    }
    if (S.status == S_CAPTURING && S.once_fault == FAULT_UNPLUG_MID_CAPTURE) {
        S.once_fault = FAULT_NONE;
        S.plugged = 0;
        S.generation++;
        return R_DEVICE_IO_FAILED;
    }
    *pCaptureStatus = S.status;
    return R_OK;
}

static int slots(void)
{
    return S.binocular ? 2 : 1;
}

/* Index of an eye in the result arrays: binocular [right, left]; monocular [the eye]. */
static int slot_of_index(int index)
{
    if (S.binocular)
        return index;
    return S.requested[1] ? 1 : 0;
}

static IddkResult result_code(void)
{
    int frames = 0, qualified = 0;
    for (int i = 0; i < SLOTS; i++) {
        frames += S.frame[i];
        qualified += S.qualified[i];
    }
    if (S.status != S_COMPLETE || frames == 0)
        return R_SE_NO_FRAME_AVAILABLE;
    if (qualified == 0)
        return R_SE_NO_QUALIFIED_FRAME;
    if (S.frame[0] && !S.qualified[0])
        return R_SE_RIGHT_FRAME_UNQUALIFIED;
    if (S.frame[1] && !S.qualified[1])
        return R_SE_LEFT_FRAME_UNQUALIFIED;
    return R_OK;
}

IddkResult Iddk_GetResultImage(HIRICAMM hDevice, IddkImageKind imageKind,
                               IddkImageFormat imageFormat, unsigned char nCompressionQuality,
                               IddkImage **pImages, int *pnMaxEyeSubtypes)
{
    (void)nCompressionQuality;
    enter(11);
    IddkResult r = check_handle(hDevice);
    if (r != R_OK)
        return r;
    if (pImages == NULL || pnMaxEyeSubtypes == NULL)
        return R_INVALID_PARAMETER;
    if (imageFormat != FORMAT_MONO_RAW || (imageKind != KIND_K1 && imageKind != KIND_K2))
        return R_UNSUPPORTED_IMAGE_FORMAT;
    advance();
    *pImages = NULL;
    *pnMaxEyeSubtypes = 0;
    r = result_code();
    if (r == R_SE_NO_FRAME_AVAILABLE || r == R_SE_NO_QUALIFIED_FRAME)
        return r;
    memset(S.images, 0, sizeof S.images);
    for (int index = 0; index < slots(); index++) {
        int slot = slot_of_index(index);
        IddkImage *image = &S.images[index];
        image->imageKind = (unsigned char)imageKind;
        image->imageFormat = (unsigned char)imageFormat;
        image->imageWidth = WIDTH;
        image->imageHeight = HEIGHT;
        if (!S.qualified[slot])
            continue;
        memcpy(S.copies[index], eye_pixels(slot), PIXELS);
        image->imageData = S.copies[index];
        image->imageDataLen = PIXELS;
    }
    *pImages = S.images;
    *pnMaxEyeSubtypes = slots();
    return r;
}

IddkResult Iddk_GetResultQuality(HIRICAMM hDevice, IddkIrisQuality **pQualities,
                                 int *pnMaxEyeSubtypes)
{
    enter(12);
    IddkResult r = check_handle(hDevice);
    if (r != R_OK)
        return r;
    if (pQualities == NULL || pnMaxEyeSubtypes == NULL)
        return R_INVALID_PARAMETER;
    advance();
    *pQualities = NULL;
    *pnMaxEyeSubtypes = 0;
    r = result_code();
    if (r == R_SE_NO_FRAME_AVAILABLE)
        return r;
    for (int index = 0; index < slots(); index++) {
        int slot = slot_of_index(index);
        S.qualities[index].totalScore = S.frame[slot] ? S.eyes[slot].total : 0;
        S.qualities[index].usableArea = S.frame[slot] ? S.eyes[slot].usable : 0;
    }
    *pQualities = S.qualities;
    *pnMaxEyeSubtypes = slots();
    return R_OK;
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
    enter(13);
    IddkResult r = check_handle(hDevice);
    if (r != R_OK)
        return r;
    if (pIsoImage == NULL)
        return R_INVALID_PARAMETER;
    if (isoRevision != ISO_2011 || imageFormat != FORMAT_MONO_RAW ||
        (imageKind != KIND_K1 && imageKind != KIND_K2))
        return R_UNSUPPORTED_IMAGE_FORMAT;
    advance();
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
    memcpy(p, eye_pixels(slot), PIXELS);
    pIsoImage->data = S.iso;
    pIsoImage->dataSize = (int)total;
    return R_OK;
}

IddkResult Iddk_ControlLed(HIRICAMM hDevice, IddkLedId ledId, unsigned char bOn,
                           unsigned int nDuration)
{
    (void)nDuration;
    enter(14);
    IddkResult r = check_handle(hDevice);
    if (r != R_OK)
        return r;
    if (ledId != 0x03 && ledId != 0x04 && ledId != 0x06 && ledId != 0x0A)
        return R_INVALID_PARAMETER;
    S.leds[ledId] = bOn ? 1 : 0;
    return R_OK;
}

/* ---- the test's control panel ------------------------------------------------------ */

void FakeIddk_Reset(void)
{
    ensure_defaults();
    defaults();
}

void FakeIddk_SetPlugged(int plugged)
{
    ensure_defaults();
    if (S.plugged && !plugged)
        S.generation++; /* whatever was open is gone */
    S.plugged = plugged ? 1 : 0;
}

void FakeIddk_SetBinocular(int binocular)
{
    ensure_defaults();
    S.binocular = binocular ? 1 : 0;
}

void FakeIddk_SetTiming(int ready_ms, int capture_ms)
{
    ensure_defaults();
    S.ready_ms = ready_ms;
    S.capture_ms = capture_ms;
}

/* slot 0 right, 1 left; pixels NULL: drawn here; otherwise 640x480 bytes, copied. */
int FakeIddk_SetEye(int slot, int present, int total, int usable, const unsigned char *pixels,
                    int length)
{
    ensure_defaults();
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
    ensure_defaults();
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
    ensure_defaults();
    int i = call_index(call);
    if (i < 0)
        return -1;
    S.delay_ms[i] = ms;
    return 0;
}

long FakeIddk_Calls(const char *call)
{
    ensure_defaults();
    int i = call_index(call);
    return i < 0 ? -1 : S.calls[i];
}

int FakeIddk_Status(void)
{
    ensure_defaults();
    advance();
    return S.status;
}

int FakeIddk_OpenHandles(void)
{
    ensure_defaults();
    return S.handle != NULL;
}

int FakeIddk_Led(int led)
{
    ensure_defaults();
    return led >= 0 && led < 16 ? S.leds[led] : -1;
}

double FakeIddk_CaptureSeconds(void)
{
    ensure_defaults();
    return S.capture_seconds;
}

long FakeIddk_Captures(void)
{
    ensure_defaults();
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
