include $(sort $(wildcard $(BR2_EXTERNAL_OPTEE_TLS_PATH)/package/*/*.mk))
