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
 * The FakeIddk_* functions (fake_iddk2000_panel.c) are the test's control panel; they are not
 * part of the IDDK API. Types and state: fake_iddk2000.h.
 * Build: gcc -shared -fPIC -O2 -o libIddk2000.so fake_iddk2000.c fake_iddk2000_panel.c -lm
 */
#include <math.h>
#include <time.h>

#include "fake_iddk2000.h"

State S;

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

void fake_enter(int index)
{
    S.calls[index]++;
    if (S.delay_ms[index] > 0)
        sleep_ms(S.delay_ms[index]);
}

void fake_defaults(void)
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
    fake_from_environment();
}

static int ready;
void fake_ensure_defaults(void)
{
    if (!ready) {
        ready = 1;
        fake_defaults();
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

const unsigned char *fake_eye_pixels(int slot)
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
void fake_advance(void)
{
    double t = now_ms();
    if (S.status == S_READY && t >= S.started_ms + S.ready_ms) {
        S.status = S_CAPTURING;
        S.capturing_ms = S.started_ms + S.ready_ms;
    }
    if (S.status == S_CAPTURING && t >= S.capturing_ms + S.capture_ms)
        finish_capture(S.capturing_ms + S.capture_ms);
}

IddkResult fake_check_handle(HIRICAMM h)
{
    fake_ensure_defaults();
    if (h == NULL || S.handle == NULL || (Handle *)h != S.handle)
        return R_INVALID_HANDLE;
    if (!S.plugged || S.handle->generation != S.generation)
        return R_DEVICE_IO_FAILED;
    return R_OK;
}

/* ---- the IDDK 2000 API ------------------------------------------------------------ */

unsigned int Iddk_GetSdkVersion(void)
{
    fake_ensure_defaults();
    fake_enter(0);
    return (3u << 16) | (3u << 8) | 1u; /* reads as 3.3.1 */
}

IddkResult Iddk_ScanDevices(const char ***ppDeviceDescs, int *pnDevicesCount)
{
    fake_ensure_defaults();
    fake_enter(1);
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
    fake_ensure_defaults();
    fake_enter(2);
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
    fake_ensure_defaults();
    fake_enter(3);
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
    fake_enter(4);
    IddkResult r = fake_check_handle(hDevice);
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
    fake_enter(5);
    IddkResult r = fake_check_handle(hDevice);
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
    fake_enter(6);
    IddkResult r = fake_check_handle(hDevice);
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
    fake_enter(7);
    IddkResult r = fake_check_handle(hDevice);
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
    fake_enter(15);
    return fake_check_handle(hDevice);
}

IddkResult Iddk_StopCapture(HIRICAMM hDevice)
{
    fake_enter(8);
    IddkResult r = fake_check_handle(hDevice);
    if (r != R_OK)
        return r;
    fake_advance();
    if (S.status == S_READY || S.status == S_CAPTURING)
        S.status = S_ABORT;
    return R_OK;
}

IddkResult Iddk_ClearCapture(HIRICAMM hDevice, IddkEyeSubtype eyeSubtype)
{
    (void)eyeSubtype;
    fake_enter(9);
    IddkResult r = fake_check_handle(hDevice);
    if (r != R_OK)
        return r;
    fake_advance();
    if (S.status == S_READY || S.status == S_CAPTURING)
        return R_DEV_BUSY;
    memset(S.frame, 0, sizeof S.frame);
    memset(S.qualified, 0, sizeof S.qualified);
    S.status = S_IDLE;
    return R_OK;
}

IddkResult Iddk_GetCaptureStatus(HIRICAMM hDevice, IddkCaptureStatus *pCaptureStatus)
{
    fake_enter(10);
    IddkResult r = fake_check_handle(hDevice);
    if (r != R_OK)
        return r;
    if (pCaptureStatus == NULL)
        return R_INVALID_PARAMETER;
    fake_advance();
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
    fake_enter(11);
    IddkResult r = fake_check_handle(hDevice);
    if (r != R_OK)
        return r;
    if (pImages == NULL || pnMaxEyeSubtypes == NULL)
        return R_INVALID_PARAMETER;
    if (imageFormat != FORMAT_MONO_RAW || (imageKind != KIND_K1 && imageKind != KIND_K2))
        return R_UNSUPPORTED_IMAGE_FORMAT;
    fake_advance();
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
        memcpy(S.copies[index], fake_eye_pixels(slot), PIXELS);
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
    fake_enter(12);
    IddkResult r = fake_check_handle(hDevice);
    if (r != R_OK)
        return r;
    if (pQualities == NULL || pnMaxEyeSubtypes == NULL)
        return R_INVALID_PARAMETER;
    fake_advance();
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

IddkResult Iddk_ControlLed(HIRICAMM hDevice, IddkLedId ledId, unsigned char bOn,
                           unsigned int nDuration)
{
    (void)nDuration;
    fake_enter(14);
    IddkResult r = fake_check_handle(hDevice);
    if (r != R_OK)
        return r;
    if (ledId != 0x03 && ledId != 0x04 && ledId != 0x06 && ledId != 0x0A)
        return R_INVALID_PARAMETER;
    S.leds[ledId] = bOn ? 1 : 0;
    return R_OK;
}
