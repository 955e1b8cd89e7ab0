/* The fake libIddk2000.so's declarations: the IDDK 2000 types (as the vendor's public
 * headers declare them) and the simulated camera's state. See fake_iddk2000.c. */
#ifndef EWP_FAKE_IDDK2000_H
#define EWP_FAKE_IDDK2000_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

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
static const char *const CALL_NAMES[CALLS] = {
    "Iddk_GetSdkVersion", "Iddk_ScanDevices", "Iddk_OpenDevice", "Iddk_CloseDevice",
    "Iddk_GetDeviceInfo", "Iddk_InitCamera", "Iddk_DeinitCamera", "Iddk_StartCapture",
    "Iddk_StopCapture", "Iddk_ClearCapture", "Iddk_GetCaptureStatus", "Iddk_GetResultImage",
    "Iddk_GetResultQuality", "Iddk_GetResultIsoImage", "Iddk_ControlLed", "Iddk_OperateCapture",
    NULL, NULL, NULL, NULL,
};

typedef struct {
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
} State;

extern State S; /* the one simulated camera of the process */

/* Shared between the two source files (fake_iddk2000.c, fake_iddk2000_panel.c). */
void fake_ensure_defaults(void);
void fake_defaults(void);
void fake_from_environment(void);
void fake_advance(void);
void fake_enter(int index);
IddkResult fake_check_handle(HIRICAMM h);
const unsigned char *fake_eye_pixels(int slot);

#endif
